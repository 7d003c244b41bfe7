//! Integration tests for `capture::FileSource`: the real corpus against an
//! independent oracle (Wireshark's wiretap), and crafted files written to a
//! temp dir for every damage case, plain and gzip-compressed.

use std::io::Write;
use std::path::{Path, PathBuf};

use phonehome::capture::{CaptureError, Damage, FileSource, Format, LinkType, Source};

// ---------------------------------------------------------------------------
// Oracle
// ---------------------------------------------------------------------------

/// `(packets, Σ caplen, Σ orig_len, first ts_ns, last ts_ns, Σ ts_ns, FNV-1a)`.
type Digest = (u64, u64, u64, u64, u64, u64, u64);
type OracleRow = (&'static str, u64, u64, u64, u64, u64, u64, u64);

/// Per corpus file, as read by Wireshark 4.0's wiretap (not by our reader):
/// `(file, packets, Σ caplen, Σ orig_len, first ts_ns, last ts_ns,
/// Σ ts_ns mod 2^64, FNV-1a-64 over all packet bytes in order)`.
///
/// Made by `editcap -F nsecpcap <file> out.pcap` and a 20-line parse of that
/// plain nanosecond pcap. `pcap-parser__test016-be.pcapng` holds two Simple
/// Packet Blocks, which carry no timestamp (tshark prints none; wiretap
/// writes 0): for them the oracle applies our documented rule, the previous
/// packet's time (0 before any).
#[rustfmt::skip]
const ORACLE: &[OracleRow] = &[
    ("ndpi__443-chrome.pcap", 1, 1506, 1506, 1581109434258190000, 1581109434258190000, 1581109434258190000, 0x5149f24d760e5183),
    ("ndpi__6in4tunnel.pcap", 127, 40293, 40293, 1444236893450580000, 1444236915586195000, 17397390385669882456, 0xcf0c1c2113fe676e),
    ("ndpi__bad-dns-traffic.pcap", 382, 99374, 99374, 1486012623234684000, 1486012733669835000, 14254521433218010520, 0x4c4b79c9e232e7b5),
    ("ndpi__dns-invalid-chars.pcap", 2, 196, 196, 946734886956538000, 946734886957011000, 1893469773913549000, 0x863965022981df46),
    ("ndpi__encrypted_sni.pcap", 3, 2310, 2310, 1590680386576239000, 1590680391590254000, 4772041166013830000, 0x90b321ed95935de2),
    ("ndpi__fuzz-2006-06-26-2594.pcap", 691, 99997, 99997, 1120469540839312000, 1120471107427770000, 17928481540015240744, 0x3ba00fcc85600e88),
    ("ndpi__fuzz-2006-09-29-28586.pcap", 131, 33626, 33626, 1031854484481540000, 1031854568982740000, 6045734726460467688, 0x2ef75345c6e141d6),
    ("ndpi__gquic.pcap", 1, 1392, 1392, 1591876186378535000, 1591876186378535000, 1591876186378535000, 0xbca04f7424e3fd83),
    ("ndpi__gre.pcapng", 1, 384, 384, 1483501349095788000, 1483501349095788000, 1483501349095788000, 0xb5e9fc0fa22b6fa1),
    ("ndpi__http-lines-split.pcap", 14, 2503, 2503, 1593713340401681000, 1593713340404597000, 3865242691932990384, 0xff4e773896f48368),
    ("ndpi__http_connect.pcap", 100, 63515, 63515, 1631454722864133000, 1631454722977251000, 15571519702500393072, 0x866b47dfc57f07ac),
    ("ndpi__http_ipv6.pcap", 193, 66327, 66327, 1448269123954061000, 1448269146970056000, 2814782547977699760, 0xfe1054376e0ef949),
    ("ndpi__ipv6_in_gtp.pcap", 2, 316, 316, 1536839120404326000, 1536840494424533000, 3073679614828859000, 0xaf5bd57f3d8a43f1),
    ("ndpi__malformed_dns.pcap", 6, 5860, 5860, 1591551760342902000, 1591551765368813000, 9549310577139672000, 0xbc929a4924ee903b),
    ("ndpi__quic-29.pcap", 15, 9386, 9386, 1592171671664832000, 1592171671699048000, 5435831001525950384, 0x9ce07d5a29e77f44),
    ("ndpi__quic-mvfst-22.pcap", 490, 288303, 288303, 24710880000, 139922848000, 21099065064000, 0xf0e861f8209df422),
    ("ndpi__quic-mvfst-27.pcapng", 20, 11399, 11399, 41432902000, 50392661000, 882739397000, 0x1e985c3d3152ba19),
    ("ndpi__quic_0RTT.pcap", 17, 7766, 7766, 1603888789791229000, 1642696459432000000, 9401480396175790384, 0x74f37c6e316ebd88),
    ("ndpi__quic_frags_ch_in_multiple_packets.pcapng", 4, 3998, 3998, 1616775370814360603, 1616775370828465135, 6467101483272240379, 0xbcfbd4829676a3ee),
    ("ndpi__tls_1.3_unidirectional_client.pcapng", 9, 1488, 1488, 1656949481728614596, 1656949481798742192, 14912545335924367162, 0xe1b2f8b30a60e1d3),
    ("ndpi__tls_2_reasms.pcapng", 14, 6907, 6907, 1639052958270296000, 1639052959221756000, 4499997350087672384, 0x755261458605c2fe),
    ("ndpi__tls_esni_sni_both.pcap", 38, 15899, 15899, 1595697574192522000, 1595697597855622000, 5296276024938798152, 0xe3994b39829a3ac7),
    ("ndpi__tls_heur__trojan-tcp-tls.pcapng", 100, 39774, 39774, 1725367999181087334, 1725367999398999597, 6516103265503712815, 0x5dc5319d10218af2),
    ("ndpi__tls_missing_ch_frag.pcap", 14, 10082, 10082, 1626252471399786000, 1626252471774171000, 4320790528546108384, 0x0c81631498326e26),
    ("ndpi__tls_port_80.pcapng", 13, 2439, 2439, 1618744619257945000, 1618744633908597000, 2596936044868448384, 0x6041c63676524dbb),
    ("ndpi__tls_with_huge_ch.pcapng", 428, 119100, 119100, 1722705809121409460, 1722705840791503037, 17895072535068684815, 0x74aeee7129ebc2b7),
    ("pcap-parser__modified-format.pcap", 1, 98, 98, 1712763541734807000, 1712763541734807000, 1712763541734807000, 0x7645f05b6e3d349e),
    ("pcap-parser__test001-be.pcapng", 4, 1312, 1312, 0, 0, 0, 0x936e546422a1859c),
    ("pcap-parser__test016-be.pcapng", 4, 1312, 1312, 0, 1340954905300858000, 4022864715898574000, 0x936e546422a1859c),
    ("pcap-parser__wireshark_samples-test.pcapng", 5898, 959259, 959259, 1506883716995391962, 1506885398126674489, 14721193195193147886, 0x76167ad65288c562),
    ("suricata-verify__decode-chdlc-01-hdlc-http_1tx.pcap", 17, 10320, 10320, 1258222644993536000, 1258222645792185000, 2943040899130214384, 0x3af754769bd8750c),
    ("suricata-verify__decode-erspan-typeII-01.pcap", 6, 1559, 1559, 1402723251625545000, 1402723255669608000, 8416339527449735000, 0x4aa024f164092048),
    ("suricata-verify__decode-sll2-01.pcap", 5, 458, 458, 1736381483613927000, 1736381483615602000, 8681907418074410000, 0xa006943f77c18c43),
    ("suricata-verify__decode-teredo-01.pcap", 78, 25025, 25025, 1210953046591933000, 1210953076058333000, 2220618731760511920, 0x9952e3e60cc7f48b),
    ("suricata-verify__defrag-bug-6887-defrag-eth-vlan-ipv6-tcp-frag-eth-vlan-ipv6-tcp.pcap", 3, 1218, 1218, 1712912728395377000, 1712912728395377000, 5138738185186131000, 0x8b00fdb442fd812c),
    ("suricata-verify__dns-dns-forward-pointer.pcap", 2, 170, 170, 1779223218176580000, 1779223218254496000, 3558446436431076000, 0x3822a0245886ac06),
    ("suricata-verify__dns-dns-invalid-opcode.pcap", 2, 169, 169, 1669763684679713000, 1669763684680060000, 3339527369359773000, 0x8f8b481139f9abb5),
    ("suricata-verify__dns-dns-tcp-www-google-com-dns.pcap", 10, 970, 970, 1485461818192874000, 1485461818309492000, 14854618182590268000, 0xb5fab57616795d1b),
    ("suricata-verify__dns-dns-truncated-rname-poc2.pcap", 12, 17471, 17471, 1727343405898404000, 1727343406902026000, 2281376801085979384, 0x477a566b88ad2199),
    ("suricata-verify__dns-dns-udp-eve-log-answer-only-dns-udp-google.com-a-aaaa-mx.pcap", 6, 814, 814, 1494364058364077000, 1494364064210977000, 8966184368389969000, 0xbabb54dbab733913),
    ("suricata-verify__dns-tcp-ts-gap.pcap", 15, 1752, 1752, 1491950843785412000, 1491950845110339000, 3932518588470089384, 0x6714455e9ce7905c),
    ("suricata-verify__exception-policy-defrag-01-ipv4frags.pcap", 3, 2918, 2918, 1506945812535132000, 1506945812535641000, 4520837437605970000, 0xea88d6e9059a6018),
    ("suricata-verify__geneve-decoder.pcap", 10, 1368, 1368, 1467822698802497000, 1467822701809606000, 14678227000057970000, 0x04e71a69797275a5),
    ("suricata-verify__http-connect-http-connect-tls.pcap", 14, 921, 921, 1599546348207060000, 1599546348209775000, 3946904801213794384, 0x6ea69835f6394cf2),
    ("suricata-verify__http-ipv6.pcap", 14, 1879, 1879, 1626868686228067000, 1626868686231513000, 4329417533510240384, 0x01265ff77909e506),
    ("suricata-verify__ipv4-truncated-truncated.pcap", 1, 1530, 1530, 1734374386302630000, 1734374386302630000, 1734374386302630000, 0x95b84aa2edf2b65f),
    ("suricata-verify__issues-issue-4759.1-tcpdns.pcap", 20, 2017, 2017, 1385482078892062000, 1385482080086423000, 9262897516092726384, 0x166d03e8ab272e81),
    ("suricata-verify__ja4-tls-quic.pcap", 83, 38638, 38638, 1668114405114955000, 1668114415964184000, 9326287337434897688, 0x2ebd208e503e2845),
    ("suricata-verify__linktype-228-flow-test-01.pcap", 7, 444, 444, 1511507968858122000, 1511507968906515000, 10580555782146386000, 0x5f07d6f857673e40),
    ("suricata-verify__quic-frag-unordered.pcap", 7, 7733, 7733, 1739794886749110000, 1739794886765625000, 12178564207324426000, 0x1a2aa49483a2fae1),
    ("suricata-verify__quic-retry.pcap", 38, 17488, 17488, 1739958250656596000, 1739958280706874000, 10778181376880074152, 0xb12d0ff957b067d4),
    ("suricata-verify__quic-v2.pcap", 15, 5202, 5202, 1695813754370843000, 1695813754374452000, 6990462241891173384, 0x208faeaebfe7b66c),
    ("suricata-verify__tls-alpn-log-detect-02.pcap", 28, 9570, 9570, 1717221305283580000, 1717221305477389000, 11188708402700705768, 0xe8dd6d15ea283254),
    ("suricata-verify__tls-duplicate-hello.pcap", 15, 2568, 2568, 1725371887846720000, 1725371897114782000, 7433834364467948384, 0x8f31daabad3894dc),
    ("suricata-verify__tls-tls-client-hello-frag-01-dump_mtu300.pcap", 62, 25529, 25529, 1659620473160545000, 1659620473217783000, 10662748969390135920, 0xcdff8fa2b278992b),
    ("suricata-verify__tls-tls13-draft28-tls13_draft28.pcap", 30, 7817, 7817, 1533213097452422000, 1533213097550483000, 9102904777603611768, 0xd0f369eca1510d5d),
    ("tcpdump__802.1ad_QinQ.pcap", 2, 128, 128, 1575842394599412000, 1575842394599680000, 3151684789199092000, 0x00539200e57444ee),
    ("tcpdump__LINKTYPE_IPV6.pcap", 1, 77, 77, 1751997566204450000, 1751997566204450000, 1751997566204450000, 0xa556daa727af22c0),
    ("tcpdump__LINKTYPE_PKTAP.pcap", 1, 182, 182, 1392802874221562000, 1392802874221562000, 1392802874221562000, 0x2939f75fd06106b9),
    ("tcpdump__LINKTYPE_RAW_ipv6.pcap", 1, 77, 77, 1751997557215270000, 1751997557215270000, 1751997557215270000, 0xa556daa727af22c0),
    ("tcpdump__dns-badlabel.pcap", 1, 63207, 63207, 36242000000000, 36242000000000, 36242000000000, 0x6335f98c12dc7473),
    ("tcpdump__dns-zlip-1.pcap", 1, 77, 77, 955475231643199000, 955475231643199000, 955475231643199000, 0x741fd6d762b64593),
    ("tcpdump__edns-opts.pcap", 42, 5353, 5353, 1571864320639715000, 1571864341291167000, 10678069679428049152, 0x7f52d9c085e38625),
    ("tcpdump__mpls-over-udp.pcap", 2, 260, 260, 1581189012233047000, 1581189012233101000, 3162378024466148000, 0x88e3cc4f069d6755),
    ("tcpdump__nflog.pcap", 4, 752, 752, 1378492319615994000, 1378492319616001000, 5513969278463995000, 0xff09f36c0f6896df),
    ("tcpdump__quic_handshake.pcap", 18, 5490, 5490, 1635191722974137000, 1635191723022890000, 10986706940183740384, 0x567425693641a5f6),
    ("tcpdump__tcp-handshake-nano.pcap", 3, 220, 220, 1418145369924505488, 1418145370052115157, 4254436110028647907, 0xbe5e563f9b22af7b),
    ("tcpdump__vxlan.pcap", 10, 1368, 1368, 1368908504837063000, 1368908507885359000, 13689085060698708000, 0xea7954c60beb2a59),
    ("zeek__dns-dns-corrupt.pcap", 2, 202, 202, 1777450586006844000, 1777450586040789000, 3554901172047633000, 0x38f11710b02855e3),
    ("zeek__dns-dns-edns-bad-length.pcap", 1, 99, 99, 1000000000, 1000000000, 1000000000, 0x27b25d6c8c738624),
    ("zeek__dns-dns_extended_rcode.pcap", 2, 146, 146, 1753342170000756000, 1753342170001104000, 3506684340001860000, 0xe14fcc9ca09ff581),
    ("zeek__dns-ech.pcap", 4, 771, 771, 1756480677537968000, 1756480692791589000, 7025922740603877000, 0x083936ea27b45a14),
    ("zeek__dns-edns-cookie.pcap", 20, 1654, 1654, 1597501603801767000, 1597501611633417000, 13503288080798346384, 0x5fcfd486e826474b),
    ("zeek__dns-https.pcap", 2, 273, 273, 1632928690500620000, 1632928690528268000, 3265857381028888000, 0x4fd5f06c6703f3a3),
    ("zeek__dns-inverse-query.pcap", 11, 752, 752, 930613226067666000, 930613227014618000, 10236745491377662000, 0x390ee6800dfb88da),
    ("zeek__dns-long-connection.pcap", 22, 2052, 2052, 1112172470501268000, 1112172737733384000, 6021053219254635384, 0xfdbc1c0879845478),
    ("zeek__dns-mdns.pcap", 24, 4854, 4854, 1738667758097949000, 1738667763287062000, 4834538129436727768, 0xa24ef116b3d493b3),
    ("zeek__dns-svcb.pcap", 2, 187, 187, 1632949179120361000, 1632949179120700000, 3265898358241061000, 0xb0146dfe5158d77d),
    ("zeek__dns_original_case.pcap", 1, 93, 93, 1592402712248901000, 1592402712248901000, 1592402712248901000, 0x84a2bf6f33b17ca3),
    ("zeek__erspanIII.pcap", 2, 304, 304, 1547208014232092000, 1547208014236397000, 3094416028468489000, 0x081964667a434cff),
    ("zeek__ipv4-fragmented-1.pcap", 3, 548, 548, 950988235155866000, 950988235156457000, 2852964705468400000, 0xef7612d05baa9f0f),
    ("zeek__ipv6-fragmented-dns.pcap", 8, 4620, 4620, 1331084278438444000, 1331084298676270000, 10648674338850564000, 0x74dca8ef3b3dd79f),
    ("zeek__ipv6-http-atomic-frag.pcap", 38, 3408, 3408, 1333039452484983000, 1333039454350237000, 13762011082003833768, 0xb75711e3a3c41172),
    ("zeek__linux_dlt_sll2.pcap", 6, 552, 552, 1660534249872259000, 1660535793578961000, 9963208615079627000, 0x17230037b19ef57f),
    ("zeek__mixed-vlan-mpls.pcap", 47, 16403, 16403, 952109346874907000, 1278600802074822000, 16312129498320574768, 0xcfec2f028c469e21),
    ("zeek__nflog-http.pcap", 13, 3104, 3104, 1470574779148133000, 1470574780138288000, 670728060166838384, 0xf74369438719e243),
    ("zeek__pcapng-multi-interface.pcapng", 6, 798, 798, 1767663089500330493, 1767663437140942000, 10605979927522224433, 0x51d3fdd0c9934815),
    ("zeek__pppoe-over-qinq.pcap", 86, 40864, 40864, 1523351398449222000, 1523351676615704000, 1881013580177675688, 0x63f8a72afe8f9dd9),
    ("zeek__quic-chromium-115.0.5790.110-google-de-fragmented.pcap", 917, 980376, 980376, 1692088843977452000, 1692088845973634000, 2118969404229615256, 0xe158875afd2d1b7c),
    ("zeek__quic-chromium-dpd-custom-port-4433.pcap", 19, 5027, 5027, 1692198386837988000, 1692198387108608000, 13705025278293722384, 0xa8f45ad6aa295083),
    ("zeek__quic-curl-8.1.2-dev-http3-www-google-de.pcap", 48, 32040, 32040, 1692782078971564000, 1692782079177283000, 7466563502316837536, 0x0f6ec13bd68977fb),
    ("zeek__quic-firefox-102.13.0esr-blog-cloudflare-com.pcap", 608, 558276, 558276, 1692198832625294000, 1692198833913378000, 14285966433417028120, 0x701d9b576316ca66),
    ("zeek__quic-interop-quic-go_quic-go-handshake.pcap", 13, 6132, 6132, 1000000, 687297000, 6117304000, 0xdd809d6083f82009),
    ("zeek__quic-quic-multiple-initial-fragmented-crypto.pcap", 15, 15347, 15347, 1745828022838362000, 1745828027111354000, 7740676277653801384, 0x387a2595f44a728e),
    ("zeek__quic-quic_win11_firefox_google.pcap", 441, 427135, 427135, 1661248466067424000, 1661248484138526000, 13187557354073898976, 0x086380fe81f30e0d),
    ("zeek__quic-quicv2-http3-443.pcap", 14, 5379, 5379, 1704387735677779000, 1704387735684391000, 5414684225847205384, 0x8b5a38048f521b1a),
    ("zeek__tls-chrome-1250-tls-x25519-kyber.pcap", 15, 11685, 11685, 1716310155395250000, 1716310155468286000, 7297908257803494384, 0x307293e5673a609f),
    ("zeek__tls-chrome-34-google.pcap", 42, 10886, 10886, 1398362902697485000, 1398362902971438000, 3391009695307632152, 0xe5feb1436d4e280c),
    ("zeek__tls-irc-starttls.pcap", 20, 4168, 4168, 1438145937325196000, 1438145942248343000, 10316174712879082384, 0xabf8de15f49a97c2),
    ("zeek__tls-openjdk-25.0.2-zeek.org.pcap", 6, 3769, 3769, 1776243128835142000, 1776243128913922000, 10657458773265707000, 0xaa226122278304d5),
    ("zeek__tls-tls-fragmented-handshake.pcap", 416, 367841, 367841, 1426117218064063000, 1426117218286833000, 2968952402100414288, 0x74e235cb99269145),
    ("zeek__tunnels-Teredo.pcap", 78, 25025, 25025, 1210953046591933000, 1210953076058333000, 2220618731760511920, 0x9952e3e60cc7f48b),
    ("zeek__tunnels-geneve-vxlan-dns-truncated.pcap", 2, 352, 384, 1681421823895599000, 1681421825895608000, 3362843649791207000, 0xa81f776056018b65),
    ("zeek__tunnels-gre-erspan3-dot1q.pcap", 2, 320, 320, 1582807360142640000, 1582807360143012000, 3165614720285652000, 0x27a3a877d18f7d33),
    ("zeek__tunnels-gre-pptp.pcap", 2, 465, 465, 1417577703821897000, 1417577704035791000, 2835155407857688000, 0xc9c9b6822f041dbe),
    ("zeek__tunnels-gre-within-gre.pcap", 628, 101664, 101664, 1341436424204043000, 1341436466584264000, 12318604384939492280, 0xafb15dc0456c9634),
    ("zeek__tunnels-vxlan-encapsulated-http.pcap", 12, 10707, 10707, 1630165473690298000, 1630165474317388000, 1115241615014324384, 0x48ccd76386173996),
    ("zeek__vlan-qinqinq.pcap", 14, 6255, 6255, 1362692526869344000, 1362692527080972000, 630951304218451384, 0x33194a54ae2dbcb9),
    ("zeek__workshop_2011_browse.pcap", 121, 17949, 17949, 1320329757458867000, 1320329772933040000, 12185948354928277072, 0x13a1a0131ae31e0a),
];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn tmp_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("capture-tests");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write_tmp(name: &str, bytes: &[u8]) -> PathBuf {
    let p = tmp_dir().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pkt {
    ts: u64,
    lt: LinkType,
    data: Vec<u8>,
    orig: u32,
}

/// Every packet up to the end or the first error; then checks the source
/// stays finished.
fn drain(src: &mut dyn Source) -> (Vec<Pkt>, Option<CaptureError>) {
    let mut out = Vec::new();
    loop {
        match src.next_packet() {
            Ok(Some(p)) => out.push(Pkt {
                ts: p.ts_ns,
                lt: p.linktype,
                data: p.data.to_vec(),
                orig: p.orig_len,
            }),
            Ok(None) => {
                assert!(src.next_packet().unwrap().is_none(), "not fused at end");
                return (out, None);
            }
            Err(e) => {
                assert!(
                    src.next_packet().unwrap().is_none(),
                    "not fused after error"
                );
                return (out, Some(e));
            }
        }
    }
}

fn read_file(path: &Path) -> (Vec<Pkt>, Option<CaptureError>) {
    let mut src = FileSource::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    drain(&mut src)
}

/// Reads packets with `next_located_batch`, `max` at a time, holding each
/// batch's buffer while its packets are copied out (as the runtime does).
fn drain_batched(src: &mut FileSource, max: usize) -> (Vec<Pkt>, Option<CaptureError>) {
    let mut out = Vec::new();
    let mut locs = Vec::new();
    loop {
        locs.clear();
        match src.next_located_batch(&mut locs, max) {
            Ok(0) => {
                assert_eq!(
                    src.next_located_batch(&mut locs, max).unwrap(),
                    0,
                    "not fused at end"
                );
                return (out, None);
            }
            Ok(n) => {
                assert_eq!(n, locs.len());
                assert!(n <= max.max(1), "{n} packets for a batch of {max}");
                let buf = src.buffer();
                for l in &locs {
                    out.push(Pkt {
                        ts: l.ts_ns,
                        lt: l.linktype,
                        data: buf[l.off..l.off + l.len].to_vec(),
                        orig: l.orig_len,
                    });
                }
                assert_eq!(src.packets_read(), out.len() as u64);
            }
            Err(e) => {
                assert_eq!(e.packets_before(), out.len() as u64);
                return (out, Some(e));
            }
        }
    }
}

/// Reads bytes as a file, plain and gzip-compressed, with the default and a
/// tiny buffer, and in batches; all must agree. Returns the plain result.
fn read_all_ways(name: &str, bytes: &[u8]) -> (Vec<Pkt>, Result<(), CaptureError>) {
    let plain = write_tmp(name, bytes);
    let gz = write_tmp(&format!("{name}.gz"), &gzip(bytes));
    let open = |p: &Path| FileSource::open(p).map(|mut s| drain(&mut s));
    let small = FileSource::from_reader_with_buffer(name, std::io::Cursor::new(bytes.to_vec()), 32)
        .map(|mut s| drain(&mut s));
    let batched =
        |p: &Path, max: usize| FileSource::open(p).map(|mut s| drain_batched(&mut s, max));
    let results = [
        open(&plain),
        open(&gz),
        small,
        batched(&plain, 256),
        batched(&gz, 3),
    ];
    let key = |r: &Result<(Vec<Pkt>, Option<CaptureError>), CaptureError>| match r {
        Ok((p, e)) => (
            p.clone(),
            e.as_ref()
                .map(|e| (e.label(), e.offset(), e.packets_before())),
        ),
        Err(e) => (
            Vec::new(),
            Some((e.label(), e.offset(), e.packets_before())),
        ),
    };
    let k0 = key(&results[0]);
    for (i, r) in results.iter().enumerate().skip(1) {
        assert_eq!(key(r), k0, "{name}: way {i} differs from plain file");
    }
    let [first, ..] = results;
    match first {
        Ok((p, None)) => (p, Ok(())),
        Ok((p, Some(e))) => (p, Err(e)),
        Err(e) => (Vec::new(), Err(e)),
    }
}

fn fnv1a(h: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(h, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// `(packets, Σ caplen, Σ orig, first, last, Σ ts, fnv)` of a packet list.
fn digest(pkts: &[Pkt]) -> Digest {
    let mut d = (
        pkts.len() as u64,
        0,
        0,
        0,
        0,
        0u64,
        0xcbf2_9ce4_8422_2325u64,
    );
    for p in pkts {
        d.1 += p.data.len() as u64;
        d.2 += u64::from(p.orig);
        d.5 = d.5.wrapping_add(p.ts);
        d.6 = fnv1a(d.6, &p.data);
    }
    d.3 = pkts.first().map_or(0, |p| p.ts);
    d.4 = pkts.last().map_or(0, |p| p.ts);
    d
}

// ---------------------------------------------------------------------------
// The real corpus
// ---------------------------------------------------------------------------

/// MANIFEST.tsv rows: file → packets column.
fn manifest() -> Vec<(String, u64)> {
    let text = std::fs::read_to_string(corpus_dir().join("MANIFEST.tsv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = header.iter().position(|h| *h == "packets").unwrap();
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].to_owned(), f[col].parse().unwrap())
        })
        .collect()
}

/// Link types tshark saw in the file (expected/<file>.json).
fn expected_linktypes(file: &str) -> Vec<u32> {
    let p = corpus_dir().join("expected").join(format!("{file}.json"));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    v["linktype_numbers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap() as u32)
        .collect()
}

/// tshark found no file-level damage in any corpus file (returncode 0, no
/// stderr, no "cut short" frames: see expected/*.json `tshark`), so every
/// file must read to its end without error, with MANIFEST's packet count,
/// the link types tshark saw, and wiretap's timestamps, lengths and bytes.
#[test]
fn corpus_matches_manifest_and_wiretap() {
    let manifest = manifest();
    let files: Vec<String> = {
        let mut v: Vec<String> = std::fs::read_dir(corpus_dir().join("pcaps"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    };
    assert_eq!(files.len(), 109, "corpus changed: update ORACLE");
    assert_eq!(files.len(), manifest.len());
    assert_eq!(files.len(), ORACLE.len());
    for file in &files {
        let path = corpus_dir().join("pcaps").join(file);
        let (pkts, err) = read_file(&path);
        assert!(err.is_none(), "{file}: {}", err.unwrap());
        let want = manifest.iter().find(|(f, _)| f == file).unwrap().1;
        assert_eq!(pkts.len() as u64, want, "{file}: packet count vs MANIFEST");
        let o = ORACLE.iter().find(|o| o.0 == file).unwrap();
        assert_eq!(
            digest(&pkts),
            (o.1, o.2, o.3, o.4, o.5, o.6, o.7),
            "{file}: vs wiretap"
        );
        let lts = expected_linktypes(file);
        for p in &pkts {
            assert!(
                lts.contains(&p.lt.0),
                "{file}: link type {} not in {lts:?}",
                p.lt.0
            );
        }
        // The whole file was read, and progress says so.
        let mut src = FileSource::open(&path).unwrap();
        while src.next_packet().unwrap().is_some() {}
        let size = std::fs::metadata(&path).unwrap().len();
        let prog = src.progress();
        assert_eq!(
            (prog.done, prog.total),
            (size, Some(size)),
            "{file}: progress"
        );
    }
}

/// The same files through gzip and through a 32-byte starting buffer (a
/// refill and a buffer growth for nearly every record) give the same packets.
#[test]
fn corpus_same_through_gzip_and_tiny_buffer() {
    for o in ORACLE {
        let bytes = std::fs::read(corpus_dir().join("pcaps").join(o.0)).unwrap();
        let gz = gzip(&bytes);
        let mut a = FileSource::from_reader(o.0, std::io::Cursor::new(gz.clone())).unwrap();
        assert!(a.is_gzip());
        let (pa, ea) = drain(&mut a);
        assert!(ea.is_none(), "{}: gz: {}", o.0, ea.unwrap());
        let want = (o.1, o.2, o.3, o.4, o.5, o.6, o.7);
        assert_eq!(digest(&pa), want, "{}: through gzip", o.0);
        assert_eq!(a.progress().done, gz.len() as u64);
        let mut b =
            FileSource::from_reader_with_buffer(o.0, std::io::Cursor::new(bytes), 32).unwrap();
        let (pb, eb) = drain(&mut b);
        assert!(eb.is_none(), "{}: small buffer: {}", o.0, eb.unwrap());
        assert_eq!(digest(&pb), want, "{}: small buffer", o.0);
    }
}

#[test]
fn corpus_formats_detected_by_magic_not_name() {
    // Named .pcap but pcapng inside.
    let s = FileSource::open(&corpus_dir().join("pcaps/ndpi__quic_0RTT.pcap")).unwrap();
    assert_eq!(s.format(), Format::PcapNg);
    let s = FileSource::open(&corpus_dir().join("pcaps/tcpdump__tcp-handshake-nano.pcap")).unwrap();
    assert_eq!(
        s.format(),
        Format::Pcap {
            nanos: true,
            big_endian: false,
            modified: false
        }
    );
    let s = FileSource::open(&corpus_dir().join("pcaps/ndpi__fuzz-2006-06-26-2594.pcap")).unwrap();
    assert_eq!(
        s.format(),
        Format::Pcap {
            nanos: false,
            big_endian: true,
            modified: false
        }
    );
    let s =
        FileSource::open(&corpus_dir().join("pcaps/pcap-parser__modified-format.pcap")).unwrap();
    assert_eq!(
        s.format(),
        Format::Pcap {
            nanos: false,
            big_endian: false,
            modified: true
        }
    );
    assert!(!s.is_gzip());
}

// ---------------------------------------------------------------------------
// Builders for crafted files
// ---------------------------------------------------------------------------

fn put16(v: &mut Vec<u8>, x: u16, be: bool) {
    v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
}
fn put32(v: &mut Vec<u8>, x: u32, be: bool) {
    v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
}
fn pad4(v: &mut Vec<u8>) {
    while !v.len().is_multiple_of(4) {
        v.push(0);
    }
}

/// pcap file header: magic (native value, written in `be` order), v2.4,
/// zone 0, sigfigs 0, snaplen, link type.
fn pcap_header(magic: u32, be: bool, snaplen: u32, network: u32) -> Vec<u8> {
    let mut v = Vec::new();
    put32(&mut v, magic, be);
    put16(&mut v, 2, be);
    put16(&mut v, 4, be);
    put32(&mut v, 0, be);
    put32(&mut v, 0, be);
    put32(&mut v, snaplen, be);
    put32(&mut v, network, be);
    v
}

/// pcap record: ts_sec, ts_frac, caplen = data.len(), orig_len, data.
fn pcap_record(v: &mut Vec<u8>, be: bool, sec: u32, frac: u32, data: &[u8], orig: u32) {
    put32(v, sec, be);
    put32(v, frac, be);
    put32(v, data.len() as u32, be);
    put32(v, orig, be);
    v.extend_from_slice(data);
}

/// A pcapng block around `body` (padded here): type, length, body, length.
fn ng_block(be: bool, btype: u32, body: &[u8]) -> Vec<u8> {
    let mut b = body.to_vec();
    pad4(&mut b);
    let len = 12 + b.len() as u32;
    let mut v = Vec::new();
    put32(&mut v, btype, be);
    put32(&mut v, len, be);
    v.extend_from_slice(&b);
    put32(&mut v, len, be);
    v
}

fn options(be: bool, opts: &[(u16, &[u8])]) -> Vec<u8> {
    let mut v = Vec::new();
    if opts.is_empty() {
        return v;
    }
    for (code, val) in opts {
        put16(&mut v, *code, be);
        put16(&mut v, val.len() as u16, be);
        v.extend_from_slice(val);
        pad4(&mut v);
    }
    put32(&mut v, 0, be); // opt_endofopt
    v
}

fn shb(be: bool) -> Vec<u8> {
    let mut b = Vec::new();
    put32(&mut b, 0x1A2B_3C4D, be);
    put16(&mut b, 1, be);
    put16(&mut b, 0, be);
    b.extend_from_slice(&[0xff; 8]); // section length: unknown (-1)
    ng_block(be, 0x0A0D_0D0A, &b)
}

fn idb(be: bool, linktype: u16, snaplen: u32, opts: &[(u16, &[u8])]) -> Vec<u8> {
    let mut b = Vec::new();
    put16(&mut b, linktype, be);
    put16(&mut b, 0, be);
    put32(&mut b, snaplen, be);
    b.extend_from_slice(&options(be, opts));
    ng_block(be, 1, &b)
}

fn epb(be: bool, if_id: u32, ts: u64, data: &[u8], orig: u32, opts: &[(u16, &[u8])]) -> Vec<u8> {
    let mut b = Vec::new();
    put32(&mut b, if_id, be);
    put32(&mut b, (ts >> 32) as u32, be);
    put32(&mut b, ts as u32, be);
    put32(&mut b, data.len() as u32, be);
    put32(&mut b, orig, be);
    b.extend_from_slice(data);
    pad4(&mut b);
    b.extend_from_slice(&options(be, opts));
    ng_block(be, 6, &b)
}

fn spb(be: bool, orig: u32, data: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    put32(&mut b, orig, be);
    b.extend_from_slice(data);
    ng_block(be, 3, &b)
}

/// Obsolete Packet Block (draft-ietf-opsawg-pcapng Appendix A).
fn pb(be: bool, if_id: u16, ts: u64, data: &[u8], orig: u32) -> Vec<u8> {
    let mut b = Vec::new();
    put16(&mut b, if_id, be);
    put16(&mut b, 0, be); // drops
    put32(&mut b, (ts >> 32) as u32, be);
    put32(&mut b, ts as u32, be);
    put32(&mut b, data.len() as u32, be);
    put32(&mut b, orig, be);
    b.extend_from_slice(data);
    ng_block(be, 2, &b)
}

fn frame(tag: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| tag.wrapping_add(i as u8)).collect()
}

fn expect_err(r: Result<(), CaptureError>) -> CaptureError {
    r.expect_err("expected a capture error")
}

// ---------------------------------------------------------------------------
// Crafted: good files
// ---------------------------------------------------------------------------

#[test]
fn big_endian_nanosecond_pcap() {
    let mut f = pcap_header(0xA1B2_3C4D, true, 65535, 101);
    pcap_record(&mut f, true, 1_700_000_000, 123_456_789, &frame(1, 60), 60);
    pcap_record(&mut f, true, 1_700_000_001, 999_999_999, &frame(2, 1), 1500);
    pcap_record(&mut f, true, 0, 0, &[], 0);
    let (pkts, r) = read_all_ways("be-ns.pcap", &f);
    r.unwrap();
    assert_eq!(
        pkts,
        vec![
            Pkt {
                ts: 1_700_000_000_123_456_789,
                lt: LinkType::RAW,
                data: frame(1, 60),
                orig: 60
            },
            Pkt {
                ts: 1_700_000_001_999_999_999,
                lt: LinkType::RAW,
                data: frame(2, 1),
                orig: 1500
            },
            Pkt {
                ts: 0,
                lt: LinkType::RAW,
                data: vec![],
                orig: 0
            },
        ]
    );
    let s = FileSource::open(&tmp_dir().join("be-ns.pcap")).unwrap();
    assert_eq!(
        s.format(),
        Format::Pcap {
            nanos: true,
            big_endian: true,
            modified: false
        }
    );
}

#[test]
fn little_endian_microsecond_pcap_masks_fcs_bits_of_linktype() {
    // LinkType field: FCS length 4 (bits 28-31) and F bit set, type 1.
    let mut f = pcap_header(0xA1B2_C3D4, false, 262_144, 0x9400_0001);
    pcap_record(&mut f, false, 1_600_000_000, 654_321, &frame(7, 64), 64);
    let (pkts, r) = read_all_ways("le-us.pcap", &f);
    r.unwrap();
    assert_eq!(
        pkts,
        vec![Pkt {
            ts: 1_600_000_000_654_321_000,
            lt: LinkType::ETHERNET,
            data: frame(7, 64),
            orig: 64
        }]
    );
}

/// Two sections of different byte order; interfaces of different link types,
/// snaplens and if_tsresol (10^-6 default, 10^-9, 2^-20 with if_tsoffset);
/// EPBs with odd lengths (padding) and options; blocks to skip in between.
fn two_section_pcapng() -> (Vec<u8>, Vec<Pkt>) {
    let mut f = shb(false);
    f.extend(idb(false, 1, 65535, &[(2, b"eth0")])); // if 0: Ethernet, µs
    f.extend(idb(false, 101, 0, &[(9, &[9])])); // if 1: raw IP, ns
    // if 2: Linux SLL, 2^-20 s, if_tsoffset +100 s (little-endian here).
    f.extend(idb(
        false,
        113,
        0,
        &[(9, &[0x80 | 20]), (14, &100i64.to_le_bytes())],
    ));
    f.extend(ng_block(false, 5, &[0u8; 20])); // ISB: skipped
    f.extend(epb(
        false,
        0,
        1_700_000_000_000_001,
        &frame(10, 61),
        61,
        &[(2, &[0, 0, 0, 1])],
    ));
    f.extend(ng_block(false, 4, &[0u8; 8])); // NRB: skipped
    f.extend(epb(
        false,
        1,
        1_700_000_000_123_456_789,
        &frame(11, 42),
        1514,
        &[],
    ));
    f.extend(epb(
        false,
        2,
        (3 << 20) | (1 << 19),
        &frame(12, 3),
        3,
        &[(1, b"a comment")],
    ));
    f.extend(ng_block(false, 0x0000_0BAD, &[1, 2, 3, 4, 5, 6, 7, 8])); // custom: skipped
    f.extend(ng_block(false, 0x7777_0000, &[])); // unknown, empty body: skipped
    // Section 2, big-endian: interface ids start again from 0.
    f.extend(shb(true));
    f.extend(idb(
        true,
        228,
        0,
        &[(9, &[3]), (14, &(-5i64).to_be_bytes())],
    )); // IPv4, ms, -5 s
    f.extend(epb(true, 0, 1_700_000_000_250, &frame(13, 20), 20, &[]));
    let want = vec![
        Pkt {
            ts: 1_700_000_000_000_001_000,
            lt: LinkType::ETHERNET,
            data: frame(10, 61),
            orig: 61,
        },
        Pkt {
            ts: 1_700_000_000_123_456_789,
            lt: LinkType::RAW,
            data: frame(11, 42),
            orig: 1514,
        },
        Pkt {
            ts: 103_500_000_000,
            lt: LinkType::LINUX_SLL,
            data: frame(12, 3),
            orig: 3,
        },
        Pkt {
            ts: 1_699_999_995_250_000_000,
            lt: LinkType::IPV4,
            data: frame(13, 20),
            orig: 20,
        },
    ];
    (f, want)
}

#[test]
fn pcapng_interfaces_resolutions_sections() {
    let (f, want) = two_section_pcapng();
    let (pkts, r) = read_all_ways("multi.pcapng", &f);
    r.unwrap();
    assert_eq!(pkts, want);
}

#[test]
fn pcapng_simple_and_obsolete_packet_blocks() {
    let be = true;
    let mut f = shb(be);
    f.extend(idb(be, 1, 100, &[(9, &[6])]));
    // SPB before any timestamp: time 0; padding beyond orig_len dropped.
    f.extend(spb(be, 5, &frame(20, 5)));
    f.extend(pb(be, 0, 2_000_000, &frame(21, 9), 9));
    // SPB: orig 300 > snaplen 100 → 100 bytes captured; time of the last packet.
    f.extend(spb(be, 300, &frame(22, 100)));
    let (pkts, r) = read_all_ways("spb-pb.pcapng", &f);
    r.unwrap();
    assert_eq!(
        pkts,
        vec![
            Pkt {
                ts: 0,
                lt: LinkType::ETHERNET,
                data: frame(20, 5),
                orig: 5
            },
            Pkt {
                ts: 2_000_000_000,
                lt: LinkType::ETHERNET,
                data: frame(21, 9),
                orig: 9
            },
            Pkt {
                ts: 2_000_000_000,
                lt: LinkType::ETHERNET,
                data: frame(22, 100),
                orig: 300
            },
        ]
    );
}

#[test]
fn unknown_link_type_is_delivered_not_an_error() {
    let mut f = shb(false);
    f.extend(idb(false, 0xfff0, 0, &[]));
    f.extend(epb(false, 0, 1, &frame(1, 10), 10, &[]));
    let (pkts, r) = read_all_ways("unknown-lt.pcapng", &f);
    r.unwrap();
    assert_eq!(pkts.len(), 1);
    assert_eq!(pkts[0].lt, LinkType(0xfff0));
}

#[test]
fn big_blocks_grow_the_buffer_or_stream_past() {
    let mut f = shb(false);
    f.extend(idb(false, 1, 0, &[]));
    // A 3 MiB decryption-secrets block, skipped as a stream (bigger than
    // the 1 MiB buffer and than the 32-byte one).
    f.extend(ng_block(false, 0x0A, &vec![0x5a; 3 << 20]));
    // A 200 KiB packet: bigger than the tiny buffer, which must grow.
    f.extend(epb(false, 0, 5, &frame(3, 200 * 1024), 200 * 1024, &[]));
    let (pkts, r) = read_all_ways("big-blocks.pcapng", &f);
    r.unwrap();
    assert_eq!(pkts.len(), 1);
    assert_eq!(pkts[0].data, frame(3, 200 * 1024));
}

#[test]
fn multi_member_gzip_is_one_stream() {
    let (f, want) = two_section_pcapng();
    let (a, b) = f.split_at(100);
    let mut gz = gzip(a);
    gz.extend(gzip(b));
    let p = write_tmp("multi-member.pcapng.gz", &gz);
    let (pkts, err) = read_file(&p);
    assert!(err.is_none(), "{}", err.unwrap());
    assert_eq!(pkts, want);
}

#[test]
fn progress_counts_compressed_bytes_for_gzip() {
    let (f, _) = two_section_pcapng();
    let gz = gzip(&f);
    let p = write_tmp("progress.pcapng.gz", &gz);
    let mut s = FileSource::open(&p).unwrap();
    assert!(s.is_gzip());
    assert_eq!(s.progress().total, Some(gz.len() as u64));
    assert!(s.progress().done <= gz.len() as u64);
    while s.next_packet().unwrap().is_some() {}
    assert_eq!(s.progress().done, gz.len() as u64);
    // Through the trait too.
    let dynsrc: &dyn Source = &s;
    assert_eq!(dynsrc.progress().done, gz.len() as u64);
}

// ---------------------------------------------------------------------------
// Crafted: damage
// ---------------------------------------------------------------------------

#[test]
fn zero_length_file() {
    let (pkts, r) = read_all_ways("empty.pcap", &[]);
    let e = expect_err(r);
    assert!(pkts.is_empty());
    assert_eq!(
        (e.label(), e.offset(), e.packets_before()),
        ("empty_file", Some(0), 0)
    );
    let text = e.to_string();
    assert!(text.contains("empty file, no capture header"), "{text}");
    assert!(text.contains("empty.pcap"), "{text}");
}

#[test]
fn wrong_magic_shows_the_bytes() {
    let (_, r) = read_all_ways("html.pcap", b"<html><body>not a capture</body></html>");
    let e = expect_err(r);
    assert_eq!(e.label(), "bad_magic");
    let text = e.to_string();
    assert!(text.contains("3c 68 74 6d"), "{text}");
    assert!(text.contains("not a pcap/pcapng"), "{text}");
    // Inside gzip, the message says so.
    let p = write_tmp("html.pcap.gz", &gzip(b"<html>"));
    let e = FileSource::open(&p).err().unwrap();
    assert!(e.to_string().contains("after gzip decompression"), "{e}");
}

#[test]
fn truncated_file_headers() {
    let h = pcap_header(0xA1B2_C3D4, false, 65535, 1);
    let (_, r) = read_all_ways("short-hdr.pcap", &h[..10]);
    let e = expect_err(r);
    assert_eq!((e.label(), e.offset()), ("truncated_header", Some(0)));
    assert!(e.to_string().contains("after 10 bytes"), "{e}");

    let s = shb(false);
    let (_, r) = read_all_ways("short-shb.pcapng", &s[..20]);
    assert_eq!(expect_err(r).label(), "truncated_header");

    // A section header with options (64 bytes), cut after 40: past the
    // fixed part, inside the block.
    let mut body = Vec::new();
    put32(&mut body, 0x1A2B_3C4D, false);
    put16(&mut body, 1, false);
    put16(&mut body, 0, false);
    body.extend_from_slice(&[0xff; 8]);
    body.extend(options(false, &[(2, b"some hardware here, 27 b")]));
    let long_shb = ng_block(false, 0x0A0D_0D0A, &body);
    assert!(long_shb.len() > 40);
    let (_, r) = read_all_ways("short-long-shb.pcapng", &long_shb[..40]);
    let e = expect_err(r);
    assert_eq!((e.label(), e.offset()), ("truncated_header", Some(0)));
    // The same block whole is a valid, empty capture.
    let (pkts, r) = read_all_ways("long-shb.pcapng", &long_shb);
    r.unwrap();
    assert!(pkts.is_empty());

    let (_, r) = read_all_ways("three-bytes", &[0xd4, 0xc3, 0xb2]);
    assert_eq!(expect_err(r).label(), "truncated_header");
}

#[test]
fn truncated_mid_packet_delivers_the_good_ones_first() {
    let mut f = pcap_header(0xA1B2_C3D4, false, 65535, 1);
    pcap_record(&mut f, false, 10, 1, &frame(1, 100), 100);
    pcap_record(&mut f, false, 11, 2, &frame(2, 50), 50);
    let third_at = f.len() as u64;
    pcap_record(&mut f, false, 12, 3, &frame(3, 80), 80);
    let cut = &f[..f.len() - 30];
    let (pkts, r) = read_all_ways("cut.pcap", cut);
    let e = expect_err(r);
    assert_eq!(pkts.len(), 2);
    assert_eq!(pkts[1].data, frame(2, 50));
    assert_eq!(
        (e.label(), e.offset(), e.packets_before()),
        ("truncated_record", Some(third_at), 2)
    );
    let text = e.to_string();
    assert!(
        text.contains("needs 96 bytes, the file ends after 66"),
        "{text}"
    );
    assert!(
        text.contains(&format!("byte offset {third_at} (after packet 2)")),
        "{text}"
    );

    // Cut inside the record header.
    let (pkts, r) = read_all_ways("cut-hdr.pcap", &f[..third_at as usize + 5]);
    assert_eq!(pkts.len(), 2);
    let e = expect_err(r);
    assert_eq!(
        (e.label(), e.offset()),
        ("truncated_record", Some(third_at))
    );
}

#[test]
fn truncated_pcapng_block() {
    let (f, want) = two_section_pcapng();
    // Cut into the last EPB (the final block): 3 packets before it.
    let last = epb(true, 0, 1_700_000_000_250, &frame(13, 20), 20, &[]);
    let at = (f.len() - last.len()) as u64;
    let (pkts, r) = read_all_ways("cut.pcapng", &f[..f.len() - 7]);
    let e = expect_err(r);
    assert_eq!(pkts, want[..3]);
    assert_eq!(
        (e.label(), e.offset(), e.packets_before()),
        ("truncated_record", Some(at), 3)
    );
    // Cut inside a skipped block.
    let mut g = shb(false);
    g.extend(idb(false, 1, 0, &[]));
    g.extend(epb(false, 0, 1, &frame(1, 4), 4, &[]));
    g.extend(ng_block(false, 5, &[0; 64]));
    let (pkts, r) = read_all_ways("cut-skip.pcapng", &g[..g.len() - 10]);
    assert_eq!(pkts.len(), 1);
    assert_eq!(expect_err(r).label(), "truncated_record");
}

#[test]
fn absurd_caplen_is_named_with_its_value() {
    let mut f = pcap_header(0xA1B2_C3D4, false, 65535, 1);
    pcap_record(&mut f, false, 1, 0, &frame(1, 10), 10);
    let at = f.len() as u64;
    // Record header claiming 0x7fff_0000 bytes, then a little data.
    put32(&mut f, 2, false);
    put32(&mut f, 0, false);
    put32(&mut f, 0x7fff_0000, false);
    put32(&mut f, 60, false);
    f.extend_from_slice(&[0; 60]);
    let (pkts, r) = read_all_ways("huge-caplen.pcap", &f);
    let e = expect_err(r);
    assert_eq!(pkts.len(), 1);
    assert_eq!(
        (e.label(), e.offset(), e.packets_before()),
        ("caplen_limit", Some(at), 1)
    );
    assert!(e.to_string().contains("2147418112"), "{e}");

    // Within the hard limit but far above the snaplen (1600 + 64 KiB).
    let mut f = pcap_header(0xA1B2_C3D4, false, 1600, 1);
    pcap_record(&mut f, false, 1, 0, &frame(1, 1600 + 65_537), 1600 + 65_537);
    let (_, r) = read_all_ways("over-snaplen.pcap", &f);
    let e = expect_err(r);
    assert_eq!((e.label(), e.offset()), ("caplen_over_snaplen", Some(24)));
    assert!(
        e.to_string().contains("67137") && e.to_string().contains("1600"),
        "{e}"
    );
    // A small excess over the snaplen is accepted, as libpcap does.
    let mut f = pcap_header(0xA1B2_C3D4, false, 1600, 1);
    pcap_record(&mut f, false, 1, 0, &frame(1, 1700), 1700);
    read_all_ways("bit-over-snaplen.pcap", &f).1.unwrap();

    // pcapng EPB over the limit.
    let mut g = shb(false);
    g.extend(idb(false, 1, 0, &[]));
    g.extend(epb(false, 0, 1, &frame(1, 262_145), 262_145, &[]));
    let (_, r) = read_all_ways("huge-caplen.pcapng", &g);
    assert_eq!(expect_err(r).label(), "caplen_limit");
}

#[test]
fn pcapng_structural_damage() {
    let base = {
        let mut g = shb(false);
        g.extend(idb(false, 1, 0, &[]));
        g
    };
    let at = base.len() as u64;
    // Packet on an interface the section never described.
    let mut g = base.clone();
    g.extend(epb(false, 3, 1, &frame(1, 4), 4, &[]));
    let (_, r) = read_all_ways("bad-ifid.pcapng", &g);
    let e = expect_err(r);
    assert_eq!((e.label(), e.offset()), ("unknown_interface", Some(at)));
    assert!(e.to_string().contains("interface 3"), "{e}");
    // Trailing length differs from the leading one.
    let mut g = base.clone();
    let mut b = epb(false, 0, 1, &frame(1, 4), 4, &[]);
    let n = b.len();
    b[n - 4] ^= 0x40;
    g.extend(b);
    let (_, r) = read_all_ways("bad-trailer.pcapng", &g);
    assert_eq!(expect_err(r).label(), "bad_block");
    // Captured length larger than the block holds.
    let mut g = base.clone();
    let mut b = epb(false, 0, 1, &frame(1, 8), 8, &[]);
    b[20..24].copy_from_slice(&9u32.to_le_bytes());
    g.extend(b);
    let (_, r) = read_all_ways("caplen-past-block.pcapng", &g);
    assert_eq!(expect_err(r).label(), "bad_block");
    // Block length not a multiple of 4.
    let mut g = base.clone();
    let mut b = ng_block(false, 5, &[0; 8]);
    b[4..8].copy_from_slice(&21u32.to_le_bytes());
    g.extend(b);
    let (_, r) = read_all_ways("odd-len.pcapng", &g);
    assert_eq!((expect_err(r).label()), "bad_block");
    // A packet block over the block-length limit: refused before buffering.
    let mut g = base.clone();
    put32(&mut g, 6, false);
    put32(&mut g, 8 << 20, false);
    g.extend_from_slice(&[0; 64]);
    let (_, r) = read_all_ways("huge-block.pcapng", &g);
    let e = expect_err(r);
    assert_eq!((e.label(), e.offset()), ("block_len_limit", Some(at)));
}

#[test]
fn damaged_gzip_after_good_packets() {
    let mut f = pcap_header(0xA1B2_C3D4, false, 65535, 1);
    for i in 0..200u32 {
        pcap_record(&mut f, false, i, 0, &frame(i as u8, 300), 300);
    }
    let gz = gzip(&f);
    // Cut the compressed file in half: the packets decompressed before the
    // cut come out, then a gzip error.
    let p = write_tmp("cut.pcap.gz", &gz[..gz.len() / 2]);
    let (pkts, err) = read_file(&p);
    let e = err.unwrap();
    assert_eq!(e.label(), "bad_gzip");
    assert!(!pkts.is_empty() && pkts.len() < 200, "{}", pkts.len());
    assert_eq!(e.packets_before(), pkts.len() as u64);
    assert_eq!(e.offset(), Some(24 + 316 * pkts.len() as u64));
    for (i, p) in pkts.iter().enumerate() {
        assert_eq!(p.data, frame(i as u8, 300));
    }
}

#[test]
fn open_missing_file() {
    let e = FileSource::open(Path::new("/nonexistent/x.pcap"))
        .err()
        .unwrap();
    assert_eq!(e.label(), "open_failed");
    assert_eq!(e.path(), Path::new("/nonexistent/x.pcap"));
    assert!(
        e.to_string()
            .starts_with("/nonexistent/x.pcap: cannot open"),
        "{e}"
    );
}

#[test]
fn damage_labels_are_distinct() {
    let all = [
        Damage::EmptyFile,
        Damage::BadMagic,
        Damage::TruncatedHeader,
        Damage::TruncatedRecord,
        Damage::CaplenLimit,
        Damage::CaplenOverSnaplen,
        Damage::BlockLenLimit,
        Damage::BadBlock,
        Damage::UnknownInterface,
        Damage::InterfaceLimit,
        Damage::BadGzip,
        Damage::ReadFailed,
    ];
    let mut labels: Vec<&str> = all.iter().map(|d| d.label()).collect();
    labels.sort();
    labels.dedup();
    assert_eq!(labels.len(), all.len());
}

// ---------------------------------------------------------------------------
// Mutations: never panic, never hang (a stable-toolchain complement to
// fuzz/fuzz_targets/capture_reader.rs)
// ---------------------------------------------------------------------------

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(v.len());
        match rng.below(5) {
            // Flip a byte.
            0 => {
                if let Some(b) = v.get_mut(at) {
                    *b ^= 1 << rng.below(8);
                }
            }
            // Overwrite 4 bytes with an extreme length-like value.
            1 => {
                let x: u32 = [
                    0,
                    1,
                    12,
                    0xffff_ffff,
                    0x7fff_ffff,
                    0x8000_0000,
                    0x0004_0001,
                    28,
                ][rng.below(8)];
                let bytes = if rng.below(2) == 0 {
                    x.to_le_bytes()
                } else {
                    x.to_be_bytes()
                };
                for (i, b) in bytes.iter().enumerate() {
                    if let Some(slot) = v.get_mut(at + i) {
                        *slot = *b;
                    }
                }
            }
            // Truncate.
            2 => v.truncate(at),
            // Duplicate a slice (repeated blocks, shifted alignment).
            3 => {
                let len = rng.below(64).min(v.len() - at.min(v.len()));
                let piece = v[at..at + len].to_vec();
                v.splice(at..at, piece);
            }
            // Delete a few bytes.
            _ => {
                let end = (at + 1 + rng.below(8)).min(v.len());
                v.drain(at..end);
            }
        }
    }
    v
}

#[test]
fn mutated_captures_never_panic_or_hang() {
    let mut inputs: Vec<Vec<u8>> = ORACLE
        .iter()
        .map(|o| std::fs::read(corpus_dir().join("pcaps").join(o.0)).unwrap())
        .filter(|b| b.len() <= 6_000)
        .collect();
    inputs.push(two_section_pcapng().0);
    assert!(inputs.len() > 40, "{}", inputs.len());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut outcomes = [0usize; 2];
    for round in 0..300 {
        for input in &inputs {
            let mut m = mutate(&mut rng, input);
            if round % 10 == 0 {
                m = gzip(&m);
                let at = 10 + rng.below(m.len().saturating_sub(10));
                if let Some(b) = m.get_mut(at) {
                    *b ^= 0x10; // damage the compressed stream too
                }
            }
            let size = m.len();
            let buf = 28 + rng.below(300);
            let Ok(mut src) =
                FileSource::from_reader_with_buffer("mutant", std::io::Cursor::new(m), buf)
            else {
                continue;
            };
            let (pkts, err) = drain(&mut src);
            outcomes[usize::from(err.is_some())] += 1;
            if round % 10 != 0 {
                // Without decompression, packets cannot hold more bytes than
                // the input.
                let bytes: usize = pkts.iter().map(|p| p.data.len()).sum();
                assert!(bytes <= size);
            }
        }
    }
    eprintln!(
        "mutants: {} clean, {} with an error",
        outcomes[0], outcomes[1]
    );
    // Both outcomes occur: the mutations reach past the headers.
    assert!(outcomes[0] > 100 && outcomes[1] > 100, "{outcomes:?}");
}

/// The runtime moves sources to a reader thread.
#[test]
fn file_source_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<FileSource>();
    assert_send::<CaptureError>();
}

// ---------------------------------------------------------------------------
// Zero-copy hand-off: `next_located` and the shared read buffers
// ---------------------------------------------------------------------------

/// A multi-MB capture of `n` packets of 40–1540 bytes; pcapng if `ng`.
fn generated_capture(n: u32, ng: bool) -> Vec<u8> {
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let mut f = if ng {
        let mut f = shb(false);
        f.extend(idb(false, 1, 0, &[]));
        f
    } else {
        pcap_header(0xA1B2_C3D4, false, 65535, 1)
    };
    for i in 0..n {
        let data = frame(i as u8, 40 + rng.below(1500));
        let orig = data.len() as u32 + (i % 3);
        if ng {
            f.extend(epb(false, 0, 1_000_000 + u64::from(i), &data, orig, &[]));
        } else {
            pcap_record(&mut f, false, 1_700_000_000 + i, i % 1_000_000, &data, orig);
        }
    }
    f
}

/// Reads `src` with `next_located`; `hold` buffers (the newest) are kept
/// alive the way workers keep theirs. Each buffer's bytes are snapshotted
/// when first seen and must be unchanged when its packets are read back,
/// after the source has moved on. Returns the packets, the error, and how
/// many times the buffer changed and how many distinct buffers were seen.
fn drain_located(
    src: &mut FileSource,
    hold: usize,
) -> (Vec<Pkt>, Option<CaptureError>, usize, usize) {
    use phonehome::capture::Located;
    use std::sync::Arc;
    type Held = (Arc<Vec<u8>>, Vec<u8>, Vec<Located>);
    let mut held: std::collections::VecDeque<Held> = Default::default();
    let mut out = Vec::new();
    let mut switches = 0;
    let mut seen = std::collections::HashSet::new();
    let release = |h: Held, out: &mut Vec<Pkt>| {
        let (buf, snapshot, locs) = h;
        assert!(*buf == snapshot, "a held buffer was written to");
        for l in locs {
            out.push(Pkt {
                ts: l.ts_ns,
                lt: l.linktype,
                data: buf[l.off..l.off + l.len].to_vec(),
                orig: l.orig_len,
            });
        }
    };
    let err = loop {
        match src.next_located() {
            Ok(Some(l)) => {
                let buf = src.buffer();
                if !held.back().is_some_and(|h| Arc::ptr_eq(&h.0, buf)) {
                    if !held.is_empty() {
                        switches += 1;
                    }
                    seen.insert(Arc::as_ptr(buf) as usize);
                    held.push_back((Arc::clone(buf), buf.to_vec(), Vec::new()));
                }
                held.back_mut().unwrap().2.push(l);
                while held.len() > hold.max(1) {
                    release(held.pop_front().unwrap(), &mut out);
                }
            }
            Ok(None) => {
                assert!(src.next_located().unwrap().is_none(), "not fused at end");
                break None;
            }
            Err(e) => break Some(e),
        }
    };
    while let Some(h) = held.pop_front() {
        release(h, &mut out);
    }
    (out, err, switches, seen.len())
}

#[test]
fn located_packets_match_next_packet_with_every_buffer_held() {
    for ng in [false, true] {
        let f = generated_capture(12_000, ng);
        assert!(f.len() > 8 << 20, "{}", f.len());
        let p = write_tmp(if ng { "gen.pcapng" } else { "gen.pcap" }, &f);
        let (want, err) = read_file(&p);
        assert!(err.is_none(), "{}", err.unwrap());
        assert_eq!(want.len(), 12_000);
        let mut src = FileSource::open(&p).unwrap();
        let (got, err, switches, distinct) = drain_located(&mut src, usize::MAX);
        assert!(err.is_none(), "{}", err.unwrap());
        assert_eq!(src.packets_read(), 12_000);
        assert!(got == want, "ng={ng}: packets differ");
        // Every buffer was held, so the source moved to a fresh one each time.
        assert!(switches >= 30, "{switches}");
        assert_eq!(distinct, switches + 1);
    }
}

#[test]
fn held_buffers_keep_their_bytes_and_errors_come_after_good_packets() {
    // Cut inside the last record: every good packet, then the error, with
    // the same offset and count as next_packet gives, buffers untouched.
    let f = generated_capture(6_000, false);
    let cut = &f[..f.len() - 10];
    let (want, err) = read_all_ways("gen-cut.pcap", cut);
    let want_err = expect_err(err);
    for hold in [1, 2, 5, usize::MAX] {
        let mut src = FileSource::open(&tmp_dir().join("gen-cut.pcap")).unwrap();
        let (got, err, _, _) = drain_located(&mut src, hold);
        let e = err.expect("an error at the cut");
        assert_eq!(e.to_string(), want_err.to_string());
        assert_eq!(e.packets_before(), want.len() as u64);
        assert!(got == want, "hold {hold}: packets differ");
        // Fused after the error.
        assert!(src.next_located().unwrap().is_none());
    }
}

#[test]
fn dropped_buffers_are_reused() {
    let f = generated_capture(12_000, false);
    // Workers that let go promptly: at most two buffers held at a time.
    let mut src = FileSource::from_reader("gen.pcap", std::io::Cursor::new(f.clone())).unwrap();
    let (got, err, switches, distinct) = drain_located(&mut src, 2);
    assert!(err.is_none(), "{}", err.unwrap());
    assert_eq!(got.len(), 12_000);
    assert!(switches >= 30, "{switches}");
    assert!(
        distinct <= 4,
        "{distinct} distinct buffers for {switches} switches"
    );
    // Nobody holding the buffer: compaction in place, a single buffer.
    let mut src = FileSource::from_reader("gen.pcap", std::io::Cursor::new(f)).unwrap();
    let first = std::sync::Arc::as_ptr(src.buffer());
    let mut n = 0;
    while src.next_packet().unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 12_000);
    assert_eq!(std::sync::Arc::as_ptr(src.buffer()), first);
}

#[test]
fn located_with_tiny_buffer_grows_for_big_records() {
    let sizes = [10usize, 100_000, 7, 200 * 1024, 3000, 150_000, 1];
    let mut pcap = pcap_header(0xA1B2_C3D4, false, 262_144, 1);
    let mut ng = shb(false);
    ng.extend(idb(false, 1, 0, &[]));
    let mut want = Vec::new();
    for (i, &n) in sizes.iter().enumerate() {
        let data = frame(i as u8, n);
        pcap_record(&mut pcap, false, i as u32, 0, &data, n as u32);
        ng.extend(epb(false, 0, i as u64 * 1_000_000, &data, n as u32, &[]));
        want.push(data);
    }
    for (name, bytes) in [("big.pcap", pcap), ("big.pcapng", ng)] {
        for gz in [false, true] {
            for hold in [1, usize::MAX] {
                let input = if gz { gzip(&bytes) } else { bytes.clone() };
                let mut src =
                    FileSource::from_reader_with_buffer(name, std::io::Cursor::new(input), 64)
                        .unwrap();
                assert_eq!(src.is_gzip(), gz);
                let (got, err, _, _) = drain_located(&mut src, hold);
                assert!(err.is_none(), "{name} gz={gz}: {}", err.unwrap());
                let data: Vec<Vec<u8>> = got.iter().map(|p| p.data.clone()).collect();
                assert!(data == want, "{name} gz={gz} hold={hold}: packets differ");
                for (i, p) in got.iter().enumerate() {
                    assert_eq!(p.ts, i as u64 * 1_000_000_000, "{name}");
                }
                // Grew to hold the biggest record, not past the block limit.
                assert!(src.buffer().len() >= 200 * 1024 + 16);
                assert!(src.buffer().len() <= phonehome::config::limits::CAPTURE_MAX_BLOCK_LEN);
            }
        }
    }
}
