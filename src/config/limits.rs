//! Every bound in the sensor, each with its reason. Hitting a limit is
//! always counted (see `stats`).

/// Most 802.1Q/802.1ad tags `decode` walks before giving up
/// (`vlan_depth_limit`). Customer tag + service tag (QinQ, 802.1ad) is 2, and
/// providers stack a third (Zeek's `vlan-qinqinq` trace); 4 leaves one spare.
/// Deeper stacks are not seen on real links and only cost loop iterations.
pub const MAX_VLAN_TAGS: usize = 4;

/// Most IPv6 extension headers (and IPv4 AH headers) `decode` walks before the
/// transport header (`ipv6_ext_limit`). RFC 8200 §4.1 allows each kind once
/// (destination options twice): hop-by-hop, dest-opts, routing, fragment, AH,
/// dest-opts = 6; 8 leaves room. Each header is at least 8 bytes, so without a
/// bound a 64 KiB packet could cost ~8k iterations: a cheap CPU amplifier.
pub const MAX_IP_EXT_HEADERS: usize = 8;

/// Most questions `extract::dns` reports from one message
/// (`too_many_questions`). Unicast queries carry 1 (RFC 9619); mDNS queries
/// bundle a few dozen at most. A 64 KiB message could otherwise encode
/// ~13,000 minimal questions and turn one packet into thousands of events.
pub const DNS_MAX_QUESTIONS: usize = 64;

/// Most A/AAAA records `extract::dns` reports from one response
/// (`too_many_addresses`). Large round-robin answers hold a few dozen; a
/// 4 KiB EDNS response can hold ~250 compressed A records, and a 64 KiB TCP
/// message ~4,000: this bounds the events one packet can produce.
pub const DNS_MAX_ADDRESS_RECORDS: usize = 128;

/// Largest TLS ClientHello handshake message (4-byte header included)
/// `extract::tls` will join from several records (`too_long`). Browser
/// hellos with post-quantum key shares and ECH are ~2 KiB and the largest
/// seen with big PSK identities stay under 8 KiB; the bound caps the scratch
/// buffer and how much a flow must buffer, where the wire format allows
/// 16 MiB.
pub const TLS_MAX_CLIENT_HELLO_LEN: usize = 32 * 1024;

/// Largest HTTP/1.x request head (request line + header fields + blank
/// line) `extract::http` scans (`too_long`). Common servers reject heads
/// beyond 8 KiB (nginx `large_client_header_buffers` 8k, Apache
/// `LimitRequestFieldSize` 8190), so legitimate requests fit; the bound caps
/// what a flow must buffer before giving up.
pub const HTTP_MAX_HEAD_LEN: usize = 8 * 1024;

/// Longest request method `extract::http` accepts when it is not one of
/// the RFC 9110 §9 methods (`not_http`). Registered extension methods
/// (IANA HTTP Method Registry) are at most 17 bytes (`UPDATEREDIRECTREF`).
pub const HTTP_MAX_METHOD_LEN: usize = 24;

/// Most client hosts the inventory tracks. A /16 of clients fits; beyond it
/// source addresses are more likely spoofed than real, and each host costs
/// a few hundred bytes before its names. Hit: the alert is not recorded,
/// counted as `inventory_hosts_dropped`.
pub const INVENTORY_MAX_HOSTS: usize = 65_536;

/// Most distinct names kept per host. An installed product contacts a few
/// dozen names; rules such as `*.kaspersky.com` match any subdomain, so one
/// host could otherwise grow without bound. Hit: the alert still counts for
/// the host (confidence, counts, seen times) but its name is not kept,
/// counted as `inventory_names_dropped`.
pub const INVENTORY_MAX_NAMES_PER_HOST: usize = 128;

/// Most distinct (host, name) entries in the whole inventory: bounds its
/// memory at roughly this many × (name length + ~150 bytes), about 100 MiB
/// with names of DNS maximum length. Hit: as for
/// `INVENTORY_MAX_NAMES_PER_HOST`, counted as `inventory_names_dropped`.
pub const INVENTORY_MAX_NAMES_TOTAL: usize = 262_144;

/// Most distinct source MACs remembered per host (the most recent one is
/// always kept). More than a few means a router or spoofing, and the list
/// stops being useful. Hit: counted as `inventory_macs_dropped`.
pub const INVENTORY_MAX_MACS_PER_HOST: usize = 8;

/// Most distinct VLAN ids remembered per host (the most recent one is always
/// kept); same reason as `INVENTORY_MAX_MACS_PER_HOST`. Hit: counted as
/// `inventory_vlans_dropped`.
pub const INVENTORY_MAX_VLANS_PER_HOST: usize = 8;

/// Most hosts listed in the end-of-run human summary: it is read in a
/// terminal; the inventory file has them all. Hit: the summary says
/// `... and N more hosts`.
pub const SUMMARY_MAX_HOSTS: usize = 50;

/// Most names listed per host in the human summary, by count. Hit: the
/// summary says `... and N more names`.
pub const SUMMARY_TOP_NAMES: usize = 5;

/// Longest name the inventory keeps, in bytes: RFC 1035 §2.3.4 caps a DNS
/// name at 255 octets on the wire, so anything longer (an HTTP Host can be
/// up to `HTTP_MAX_HEAD_LEN`) is no real host name, and the bound keeps
/// `INVENTORY_MAX_NAMES_TOTAL` a memory bound. Hit: the alert still counts
/// for the host but its name is not kept, counted as
/// `inventory_names_too_long`.
pub const INVENTORY_MAX_NAME_LEN: usize = 255;

/// Longest name `signatures` will match, in text form without the trailing
/// dot (`name_too_long`). RFC 1035 §2.3.4 caps a name at 255 octets on the
/// wire, which is 253 characters written with dots; a longer name (an HTTP
/// Host can be longer) cannot be a resolvable DNS name, so it matches no
/// rule. Also the size of the matcher's stack buffer, and the longest
/// pattern a pack may hold.
pub const MATCH_MAX_NAME_LEN: usize = 253;

/// Longest label in a signature pattern (RFC 1035 §2.3.4: 63 octets). A
/// longer label can never match a real name, so a pack holding one is
/// rejected as an error (`label longer than 63`).
pub const PATTERN_MAX_LABEL_LEN: usize = 63;

/// Largest signature pack file read, in bytes. The Kaspersky pack is ~70 KiB;
/// 16 MiB leaves room for packs with tens of thousands of rules while
/// refusing to read an arbitrary large file passed by mistake. Hit: load
/// error `file too large`.
pub const PACK_MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Most rules (domain + ip + port) in one loaded signature set. Bounds the
/// matcher's memory (~200 bytes a rule) and keeps Suricata sids inside the
/// block documented in signatures/README.md (10 sids a rule). Hit: load
/// error `too many rules`.
pub const SIGNATURES_MAX_RULES: usize = 100_000;

// --- traffic generator (src/traffic) ---

/// Longest DNS label the generator's name writer accepts: the length byte
/// has 6 usable bits (RFC 1035 section 2.3.4), so 63 is the wire maximum.
pub const GEN_DNS_MAX_LABEL_LEN: usize = 63;

/// Largest message offset a DNS compression pointer can name: 14 bits
/// (RFC 1035 section 4.1.4). Suffixes written later are not reused.
pub const GEN_DNS_POINTER_MAX_OFFSET: u16 = 0x3fff;

/// Bulk scenario: sessions in flight at once. Bounds the generator's memory
/// (each session holds its pending frames, at most a few hundred KB) so a
/// 2 GB capture streams in constant memory, while still interleaving flows.
pub const GEN_BULK_ACTIVE_SESSIONS: usize = 48;

/// TCP maximum segment size the generator uses for IPv4 (1500-byte MTU
/// minus 40 bytes of headers); IPv6 uses 20 bytes less.
pub const GEN_TCP_MSS_V4: usize = 1460;

/// Most TCP flows one worker tracks at once. Only flows that carried
/// payload are tracked (pure ACKs never create state), and a flow costs
/// ~200 bytes before any buffered bytes, so this bounds the table at ~25 MiB
/// per worker. A busy enterprise link carries tens of thousands of
/// concurrent TCP flows. Hit: the least recently seen flow is evicted,
/// counted as `flows_evicted_full`.
pub const MAX_FLOWS_PER_WORKER: usize = 131_072;

/// A flow with no packet for this long (packet time) is forgotten,
/// counted as `flows_expired`. Two minutes is longer than any hello or
/// request head takes to arrive, and matches common firewall idle timeouts
/// for half-open state.
pub const FLOW_IDLE_TIMEOUT_NS: u64 = 120 * 1_000_000_000;

/// How often (packet time) the flow table is swept for idle flows. Sweeping
/// costs a pass over the table, so it is amortised over this interval.
pub const FLOW_SWEEP_INTERVAL_NS: u64 = 5 * 1_000_000_000;

/// Most bytes buffered at the start of one TCP stream direction while a
/// ClientHello or HTTP request head is incomplete. Post-quantum hellos are
/// ~1.8 KiB, large ones with PSK tickets stay under 8 KiB, and request heads
/// over 8 KiB are refused by common servers (`HTTP_MAX_HEAD_LEN`). Hit: the
/// direction gives up, counted as `stream_prefix_overflow`.
pub const MAX_STREAM_PREFIX: usize = 16 * 1024;

/// Most bytes one worker holds in all its reassembly buffers together.
/// `MAX_FLOWS_PER_WORKER × MAX_STREAM_PREFIX` would be 2 GiB; half-open
/// flows that each send one byte of a "hello" are a cheap flood. Hit: the
/// least recently seen flows are evicted until under the budget, counted as
/// `flows_evicted_memory`.
pub const MAX_REASSEMBLY_BYTES_PER_WORKER: usize = 32 * 1024 * 1024;

/// Most segments held beyond a gap in one direction, waiting for the
/// missing bytes (out-of-order delivery). Real reordering is a few
/// segments deep. Hit: the direction gives up, counted as
/// `segments_ooo_dropped` and `stream_gap_abandoned`.
pub const MAX_HELD_SEGMENTS: usize = 8;

/// Most bytes held beyond a gap in one direction (see `MAX_HELD_SEGMENTS`);
/// enough for a post-quantum hello split over 2–4 segments in any order.
pub const MAX_HELD_BYTES: usize = 16 * 1024;

/// Stream buffers kept for reuse per worker, so reassembly allocates
/// nothing in steady state; beyond it buffers are freed.
pub const STREAM_BUFFER_POOL: usize = 1024;

/// Initial size of the read buffer of each capture file reader
/// (`capture::file`). pcap-parser's buffered reader measured 6.0–6.3 GB/s
/// with 1 MiB (research/crates.md); the buffer only has to hold one whole
/// record, so larger buys nothing. Memory per open file stays at this size
/// unless a bigger pcapng block must be parsed (see
/// [`CAPTURE_MAX_BLOCK_LEN`]).
pub const CAPTURE_READ_BUFFER: usize = 1 << 20;

/// Largest captured length of one packet (`caplen_limit`), in bytes. This is
/// libpcap's MAXIMUM_SNAPLEN and Wireshark's WTAP_MAX_PACKET_SIZE_STANDARD:
/// no writer of Ethernet/IP captures records more, and tcpdump rejects such a
/// record as damaged too. A bigger length field is corruption, not a packet.
pub const CAPTURE_MAX_CAPLEN: u32 = 262_144;

/// How far a packet's captured length may exceed the snapshot length in
/// its file or interface header before the record counts as damaged
/// (`caplen_over_snaplen`). libpcap accepts a captured length above the
/// snaplen (some writers record a smaller snaplen than they used), so a
/// small excess is not damage; an excess above 64 KiB, more than any IP
/// datagram, is explained by no writer: the length field is broken.
pub const CAPTURE_CAPLEN_OVER_SNAPLEN: u32 = 65_536;

/// Largest pcapng block the file reader parses whole (`block_len_limit`):
/// section headers, interface descriptions and packet blocks. A packet block
/// holds at most [`CAPTURE_MAX_CAPLEN`] bytes plus options (flags, hashes, a
/// comment); headers hold a few short strings. The read buffer grows up to
/// this size and no further. Other blocks (name resolution, statistics,
/// decryption secrets, custom) are skipped as a stream at any length.
pub const CAPTURE_MAX_BLOCK_LEN: usize = 4 << 20;

/// Most interfaces one pcapng section may describe (`interface_limit`).
/// Capture tools write one per capture interface and mergecap one per
/// distinct input interface, so real files hold from one to a few hundred;
/// at ~32 bytes each the table stays under 2 MiB where the format allows
/// 2^32 entries.
pub const CAPTURE_MAX_INTERFACES: usize = 65_536;

/// Packets per worker batch (one channel message). Batching amortises the
/// channel cost (~220 M items/s with batches of 256 against ~35 M one at a
/// time, crates.md); larger batches only add latency.
pub const BATCH_PACKETS: usize = 256;

/// Batches queued per worker before the reader blocks (offline) or counts a
/// drop (live). With `BATCH_PACKETS` this bounds the packets in flight per
/// worker to ~2k, a few MiB of frames.
pub const WORKER_QUEUE_BATCHES: usize = 8;

/// Segment starts of one TCP direction examined for a ClientHello or an
/// HTTP request when the stream starts with something else (a SOCKS
/// greeting, an SMTP/IMAP STARTTLS dialogue, a proxy preamble). Those
/// preambles take a few client segments; looking further costs a few
/// nanoseconds per segment of every bulk flow. Hit: the direction is
/// finished, counted as `tcp_streams_unclassified` (the normal end of
/// flows that are neither TLS nor HTTP).
pub const MAX_PROBED_SEGMENTS: usize = 6;
