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
/// (`capture::file`), and so the size of each `read()` and of the block of
/// packets handed to the workers without copying. Sized to stay in L2 cache
/// while the reader parses it and a worker decodes it; it only has to hold
/// one whole record, so larger buys nothing. Memory per buffer stays at this
/// size unless a bigger pcapng block must be parsed (see
/// [`CAPTURE_MAX_BLOCK_LEN`]).
pub const CAPTURE_READ_BUFFER: usize = 256 * 1024;

/// Retired read buffers a capture file reader keeps for reuse
/// (`capture::file`). A buffer handed to the workers cannot be written until
/// they drop it, so the reader moves on to a fresh one and keeps the old one
/// to reuse once it is free. Buffers in flight are bounded by the worker
/// queues, so a few dozen cover them and the reader stops allocating in
/// steady state; retired buffers beyond this are dropped (freed when the
/// workers let go).
pub const CAPTURE_SPARE_BUFFERS: usize = 32;

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

/// (host, vendor, name) triples the alert policy remembers for roll-up
/// (`output::policy`). Each costs ~200 bytes plus the name, so the table
/// stays near 16 MiB; a sensor watching 65k hosts × a few vendor names
/// each fits. Hit: the new triple is not remembered and every sighting of
/// it is written (fail open: alerts are never suppressed for lack of
/// memory), counted as `policy_state_full`.
pub const POLICY_MAX_KEYS: usize = 65_536;

/// Hosts whose highest alerted confidence the alert policy remembers, to
/// alert at once when a host's confidence rises. Same bound as
/// [`INVENTORY_MAX_HOSTS`]. Hit: counted as `policy_hosts_full`; the host's
/// sightings still follow the per-name roll-up.
pub const POLICY_MAX_HOSTS: usize = 65_536;

/// Default re-alert (roll-up) interval of the alert policy, in packet-time
/// nanoseconds: one hour, so a host phoning home every five minutes gives
/// 24 roll-ups a day instead of 288 alerts.
pub const POLICY_DEFAULT_REALERT_NS: u64 = 3_600 * 1_000_000_000;

/// Records a network sink holds in memory between the output thread and
/// its sender thread. Alert records are ~1 KiB, so ~10 MiB; at the alert
/// rates of a real network (a few per second) this covers minutes of
/// collector outage without a spool. Hit: the record is dropped and counted
/// as `dropped{reason="queue_full"}`; the output thread never blocks.
pub const SINK_QUEUE_RECORDS: usize = 10_000;

/// Largest syslog message (header, structured data and body) a syslog sink
/// sends. RFC 5425 §4.3.1 and RFC 6587 receivers must take 2,048 octets and
/// should take 8,192; rsyslog's default `maxMessageSize` is 8 KiB and it
/// truncates longer ones, which would cut a JSON or CEF body mid-field.
/// Hit: the record is dropped, counted as `dropped{reason="too_large"}`.
pub const SYSLOG_MAX_MESSAGE: usize = 8_192;

/// Records a syslog sender writes per batch before checking the
/// connection again. Small enough that a collector restart loses at most
/// a batch to the kernel's send buffer race, large enough to amortise the
/// liveness check.
pub const SYSLOG_BATCH_RECORDS: usize = 64;

/// Default size cap of one sink's on-disk spool (`--spool-dir`): 64 MiB is
/// ~60k alert records, a day of a busy network's alerts. Hit: the record
/// is dropped, counted as `dropped{reason="spool_full"}`.
pub const SPOOL_DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Largest single record the spool reads back. Records are at most
/// [`SYSLOG_MAX_MESSAGE`] or one HEC event envelope (an ECS line plus a
/// few hundred bytes); a longer length prefix means the file was damaged.
/// Hit: the spool is cut at that record, counted as `spool_damaged`.
pub const SPOOL_MAX_RECORD: usize = 1 << 20;

/// First reconnect delay of a network sink; it doubles per failed attempt.
/// Short enough that a collector restart costs about a second.
pub const SINK_BACKOFF_INITIAL_MS: u64 = 250;

/// Longest reconnect delay of a network sink: a collector that is down for
/// hours is tried twice a minute, not thousands of times.
pub const SINK_BACKOFF_MAX_MS: u64 = 30_000;

/// Default time a network sink gets at shutdown to deliver what it holds.
/// Records left after it go to the spool (kept for the next run) or are
/// counted as `dropped{reason="shutdown"}`.
pub const SINK_DRAIN_DEFAULT_MS: u64 = 5_000;

/// Connect timeout of a network sink (TCP connect and TLS handshake
/// each): a collector that does not answer in 5 s counts as unreachable.
pub const SINK_CONNECT_TIMEOUT_MS: u64 = 5_000;

/// Read/write timeout of a network sink's socket: a collector that stops
/// reading for 10 s counts as gone, so the sender thread never hangs.
pub const SINK_IO_TIMEOUT_MS: u64 = 10_000;

/// Events per Splunk HEC request. Splunk's own forwarders send batches of
/// this order; one request per event would cost a round trip each.
pub const HEC_BATCH_EVENTS: usize = 100;

/// Bytes per Splunk HEC request body. Splunk's default `max_content_length`
/// is far larger; 1 MiB keeps a retried request cheap. A single record
/// larger than this is still sent alone.
pub const HEC_BATCH_BYTES: usize = 1 << 20;

/// Largest HTTP response head or body read from a HEC collector. Splunk's
/// answers are a few dozen bytes (`{"text":"Success","code":0}`). Hit: the
/// connection is closed and the batch retried.
pub const HEC_MAX_RESPONSE: usize = 64 * 1024;

/// Largest HEC token file read. Tokens are 36-character GUIDs. Hit: the
/// token file is refused at start-up.
pub const HEC_MAX_TOKEN_FILE: u64 = 4 * 1024;

/// Default size of one TPACKET_V3 ring block (`capture::afpacket`). The
/// kernel fills a block with many frames and hands it over whole, so a block
/// is the unit of wake-ups: 4 MiB holds ~2,600 full-size Ethernet frames
/// (1,514 bytes plus an 80-byte frame header), one wake-up per few thousand
/// packets at line rate. The block size also caps the largest frame the ring
/// can hold (GRO/GSO super-frames reach 64 KiB). 4 MiB is the largest piece
/// the page allocator hands out at once (order 10); bigger blocks make the
/// kernel fall back to slower vmalloc'ed memory.
pub const AFPACKET_BLOCK_SIZE: u32 = 4 << 20;

/// Default number of ring blocks per socket. 64 × 4 MiB = 256 MiB of kernel
/// memory per worker: on the 2-core, 24 GB target box two workers hold
/// 512 MiB, about 2 % of RAM, and each ring absorbs ~200 ms of a saturated
/// 10 Gb/s link (2 s at 1 Gb/s) while its worker is busy (a signature
/// reload, an inventory rewrite, a burst of alerts). Hit (ring full): the
/// kernel drops the frame and counts it in `kernel_drops`; freezes are
/// counted as `ring_full`.
pub const AFPACKET_BLOCK_COUNT: u32 = 64;

/// Largest ring (block size × block count) one socket may ask for. 4 GiB is
/// a sixth of the target box's RAM; a typo in a flag must not pin the whole
/// machine's memory in the kernel. Hit: `open` fails with a `ring_too_large`
/// error naming the limit.
pub const AFPACKET_MAX_RING_BYTES: u64 = 4 << 30;

/// Default TPACKET_V3 block retire timeout, in ms: a partly filled block is
/// handed to the worker at most this long after its first frame. It bounds
/// capture-to-alert latency on a quiet link; at 10 ms a quiet socket costs at
/// most 100 wake-ups per second.
pub const AFPACKET_RETIRE_TIMEOUT_MS: u32 = 10;

/// Nominal TPACKET_V3 frame size passed in `tpacket_req3`. V3 packs frames
/// of any length into blocks, so the kernel uses this value only to check
/// the request (a multiple of 16, at least the 68-byte frame header); the
/// largest frame is bounded by the block size instead.
pub const AFPACKET_FRAME_SIZE: u32 = 2048;

/// How long a live source waits for a packet before returning
/// `LiveNext::Idle`, in ms. It bounds how late a worker notices a shutdown
/// request or a due status line; 100 ms is below human reaction time and
/// costs at most 10 idle wake-ups per second per worker.
pub const LIVE_POLL_TIMEOUT_MS: u32 = 100;

/// Default live snaplen: bytes kept of each frame. 262,144 is tcpdump's
/// default (libpcap's MAXIMUM_SNAPLEN): whole frames, GRO super-frames
/// included, because TLS and HTTP names can sit deep in a segment. Frames
/// cut by a smaller snaplen keep `orig_len` and are counted as `truncated`.
pub const LIVE_DEFAULT_SNAPLEN: u32 = 262_144;

/// Largest buffer `drop_privileges` lets `getpwnam_r` ask for (it starts at
/// 4 KiB and doubles on `ERANGE`). A password entry is a few hundred bytes
/// (glibc's `_SC_GETPW_R_SIZE_MAX` is 1 KiB); directory-backed NSS entries
/// can be larger, and 1 MiB is far beyond any real one while still bounding
/// a misbehaving NSS module. Hit: the user lookup fails with `ERANGE` and
/// the sensor refuses to start.
pub const PASSWD_BUF_MAX: usize = 1 << 20;

/// Most tunnel layers `decode` unwraps in one frame (`encap_depth_limit`):
/// an MPLS label stack, PPPoE, GRE/ERSPAN, VXLAN, Geneve, IP-in-IP, 6in4,
/// Teredo, GTP-U and MPLS-in-UDP each count one. Real remote-span and
/// cloud-mirroring paths nest two or three (MPLS → GRE → ERSPAN, VXLAN →
/// Geneve, IPv4-in-IPv6 → GRE/PPP in Zeek's PPTP trace); 4 leaves one spare.
/// Each layer costs a header parse, so without a bound a crafted 64 KiB
/// frame of nested minimal tunnels would be a CPU amplifier.
pub const MAX_ENCAP_DEPTH: usize = 4;

/// Most MPLS label stack entries `decode` walks before the bottom-of-stack
/// bit (`mpls_label_limit`). Classic stacks carry 1–3 labels (transport,
/// VPN/pseudowire, entropy label pair); segment-routing stacks reach 10–12
/// (the usual maximum SID depth of routers). 16 covers those; each entry is
/// 4 bytes, so the bound only stops a crafted stack without an S bit.
pub const MAX_MPLS_LABELS: usize = 16;

/// Most GTP-U extension headers (3GPP TS 29.281 §5.2) walked before the
/// user packet (`malformed_tunnel` when exceeded). User-plane packets carry
/// one or two (PDU session container, UDP port, PDCP number); 8 leaves room
/// and bounds the walk over crafted chains of minimal 4-byte headers.
pub const MAX_GTP_EXT_HEADERS: usize = 8;

/// Most NFLOG TLVs walked while looking for the payload attribute (hitting
/// it counts as `not_ip`: no packet found in the record). The kernel
/// writes at most one of each of its ~20 attribute types (nfnetlink_log.h),
/// so 32 is never reached by a real record; a crafted record of minimal
/// 4-byte TLVs would otherwise cost 16k iterations.
pub const MAX_NFLOG_TLVS: usize = 32;

/// IP datagrams being reassembled at once per worker (`defrag.evictions`
/// when a new one pushes the oldest out). Fragmented traffic on real links
/// is a trickle (large DNS/EDNS answers, some UDP tunnels, IPsec); a few
/// thousand concurrent datagrams is already a flood, and each costs only
/// its bytes (bounded below) plus ~100 bytes of bookkeeping.
pub const DEFRAG_MAX_DATAGRAMS: usize = 4096;

/// Largest reassembled IP payload, in bytes (`defrag.too_big`): an IPv4
/// total length and an IPv6 payload length are 16-bit fields (RFC 791 §3.1,
/// RFC 8200 §4.5: a fragment whose offset + length exceeds 65,535 must be
/// discarded). Jumbograms are never fragmented (RFC 2675 §3).
pub const DEFRAG_MAX_DATAGRAM_BYTES: usize = 65_535;

/// Buffer memory one worker's reassembler may hold, in bytes (allocated
/// capacity of datagrams in progress; `defrag.evictions` when it would be
/// exceeded: oldest datagrams are dropped first). 16 MiB holds 256
/// maximum-size datagrams or thousands of fragmented DNS answers at once;
/// an attacker flooding first fragments cannot push a worker past it.
pub const DEFRAG_MAX_BYTES: usize = 16 * 1024 * 1024;

/// A datagram whose fragments are not all in after this much packet time is
/// dropped (`defrag.timeouts`). Linux's `ipfrag_time` default is 30 s
/// (RFC 791 suggests a 15 s lower bound, RFC 8200 §4.5 60 s); a sender's
/// fragments leave back to back, so anything slower is lost traffic.
pub const DEFRAG_TIMEOUT_NS: u64 = 30 * 1_000_000_000;

/// Most fragments one datagram may arrive in (`defrag.too_many_fragments`):
/// 65,535 bytes over the 576-byte IPv4 minimum MTU is 120 fragments, over
/// IPv6's 1,280 is 52. Beyond 128 the sender is cutting tiny fragments,
/// which no stack does and evasion tools do; it also bounds the overlap
/// check per fragment.
pub const DEFRAG_MAX_FRAGMENTS: usize = 128;

/// Reassembly buffers kept for reuse per worker after their datagram is done,
/// so reassembly allocates nothing in steady state; beyond this they are
/// freed. 64 buffers of up to 64 KiB is at most 4 MiB kept idle.
pub const DEFRAG_BUFFER_POOL: usize = 64;

/// Most QUIC handshakes one worker tracks at once (`quic.conns_evicted` when
/// a new one pushes out the oldest). Initials of one handshake arrive within
/// a few round trips; 4,096 concurrent handshakes per worker is far beyond a
/// busy site's rate, and with [`QUIC_MAX_CRYPTO_BYTES`] it bounds the CRYPTO
/// buffers to 32 MiB per worker even when an attacker floods Initials.
pub const QUIC_MAX_CONNECTIONS: usize = 4096;

/// Most bytes of the client's Initial CRYPTO stream (the ClientHello) kept
/// per connection (`quic.crypto_over_limit`; a hello announcing more is
/// `quic.hellos_too_long`). Browser hellos with a post-quantum key share and
/// ECH are 1.8–3 KiB (two or three Initials); 8 KiB leaves room for large
/// PSK identities while keeping the per-handshake buffer small.
pub const QUIC_MAX_CRYPTO_BYTES: usize = 8 * 1024;

/// Disjoint byte ranges of CRYPTO data held per connection before the gaps
/// close (`quic.crypto_ranges_limit`, the handshake is then abandoned).
/// Chromium splits its hello into a dozen shuffled CRYPTO frames over up to
/// three packets; 32 gaps is more than any client makes and bounds the
/// merge work per frame.
pub const QUIC_MAX_CRYPTO_RANGES: usize = 32;

/// A tracked QUIC handshake with no client Initial for this long (packet
/// time) is forgotten (`quic.conns_expired`). A client retransmits lost
/// Initials after its probe timeout, which starts at 1 s and doubles
/// (RFC 9002 §6.2): 1 + 2 + 4 + 8 = 15 s covers four retransmissions.
pub const QUIC_IDLE_TIMEOUT_NS: u64 = 15 * 1_000_000_000;

/// Most QUIC packets read from one UDP datagram (`quic.coalesced_limit`).
/// RFC 9000 §12.2 coalesces at most one packet per encryption level (four)
/// in practice; 8 bounds the loop over a datagram of tiny bogus headers.
pub const QUIC_MAX_PACKETS_PER_DATAGRAM: usize = 8;

/// How often a live capture thread publishes its counters for the status
/// line and `/metrics`. Publishing clones the counters (a few hundred
/// bytes); four times a second keeps `/metrics` fresh at no measurable cost.
pub const LIVE_PUBLISH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(250);

/// Longest the live output thread waits for events before it checks
/// whether the inventory is due to be rewritten.
pub const LIVE_OUTPUT_TICK: std::time::Duration = std::time::Duration::from_millis(200);

// --- attribution (issue 7): answer map, resolvers, KSC fleets ---

/// Most addresses the DNS-answer map remembers (vendor names' A/AAAA
/// records). Vendor names resolve to a few hundred CDN addresses at most;
/// 65,536 leaves room for many vendors and rotating CDNs at ~200 bytes per
/// entry (about 13 MiB). Hit: the entry that expires first is evicted,
/// counted as `answer_map_evicted`.
pub const ANSWER_MAP_MAX_ADDRS: usize = 65_536;

/// Most vendor names remembered per address: a shared CDN address can carry
/// many names, and the evidence only needs a few to be explained. Hit: the
/// name is not added, counted as `answer_map_names_dropped`.
pub const ANSWER_MAP_MAX_NAMES_PER_ADDR: usize = 4;

/// Shortest time an answer is held, whatever its TTL. Clients and products
/// keep using an address well past a short TTL (OS caches, pooled
/// connections, retries); 10 minutes covers the usual 60–300 s CDN TTLs
/// being stretched without holding stale addresses for long.
pub const ANSWER_MIN_HOLD_NS: u64 = 10 * 60 * 1_000_000_000;

/// Longest time an answer is held, whatever its TTL: a week-long TTL (or a
/// forged one) must not pin an address that may since have been reassigned
/// to someone else. 6 hours bounds how stale an attribution can be.
pub const ANSWER_MAX_HOLD_NS: u64 = 6 * 3600 * 1_000_000_000;

/// Most DNS servers (destinations of port-53 queries) the resolver detector
/// tracks. A network has a handful of resolvers; queries to random
/// addresses (scans, spoofing) must not grow the table. Hit: the server is
/// not tracked, counted as `resolver_servers_dropped`.
pub const RESOLVER_MAX_SERVERS: usize = 4_096;

/// Distinct clients that must be seen querying a home host on port 53
/// before it is taken for a resolver. Three: a host queried by one or two
/// peers may be a test box or a mis-set client; an office resolver serves
/// dozens.
pub const RESOLVER_MIN_CLIENTS: usize = 3;

/// Queries forwarded upstream (a home host asking for a name shortly after
/// a client asked it for the same name) before it is taken for a resolver;
/// needs only the vendor-name alerts, so it works without `--names`.
pub const RESOLVER_MIN_FORWARDS: u64 = 2;

/// How long after a client's query a server's own query for the same name
/// counts as forwarding it. Upstream resolution normally starts within
/// milliseconds; 2 s allows for a busy resolver without pairing unrelated
/// lookups.
pub const RESOLVER_FORWARD_WINDOW_NS: u64 = 2 * 1_000_000_000;

/// Recent client queries remembered per DNS server to pair them with its
/// forwarded ones (name hash and time, 16 bytes each). 64 covers a 2 s
/// window on a busy office resolver when only vendor names are seen.
pub const RESOLVER_RECENT_QUERIES: usize = 64;

/// Clients listed per (resolver, vendor name) in the report: enough to act
/// on; more would be an unbounded list. Hit: counted as
/// `inventory_resolver_clients_dropped`.
pub const RESOLVER_MAX_CLIENTS_PER_NAME: usize = 32;

/// Vendor names per resolver whose clients are remembered (same reason as
/// `INVENTORY_MAX_NAMES_PER_HOST`). Hit: counted as
/// `inventory_resolver_clients_dropped`.
pub const RESOLVER_MAX_NAMES: usize = 128;

/// Contacts (evidence within `CONTACT_GAP_NS` of each other form one)
/// remembered per host for the timeline and the typical interval. 1,024
/// covers a beacon every 30 minutes for three weeks at 17 bytes each. Hit:
/// the oldest contact is forgotten, counted as `inventory_contacts_dropped`.
pub const INVENTORY_MAX_CONTACTS_PER_HOST: usize = 1_024;

/// Evidence closer than this to the previous contact belongs to the same
/// contact: one product cycle (DNS, TLS, HTTP within seconds) is one
/// contact, so the typical interval measures the product's period, not the
/// gap between its packets.
pub const CONTACT_GAP_NS: u64 = 60 * 1_000_000_000;

/// A host is `quiet_since` its last contact when nothing has been seen from
/// it for this long before the newest packet of the inventory, or for three
/// typical intervals if that is longer. A day: products beacon at least
/// daily (updates), so a day of silence means removed, off or moved.
pub const QUIET_AFTER_NS: u64 = 24 * 3600 * 1_000_000_000;

/// Most addresses of one MAC merged into one host record: a workstation
/// has an IPv4, an IPv6 or two, and a DHCP change or two. A MAC behind more
/// addresses is a router's (routed hosts all carry it) and is never merged;
/// counted as `inventory_mac_merge_refused`.
pub const INVENTORY_MAC_MERGE_MAX_IPS: usize = 4;

/// Largest state file (`--state PATH`) read back, in bytes: an inventory at
/// every limit is far smaller than this; a larger file is not ours.
pub const STATE_MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;

/// Most peers remembered per host for KSC port evidence (its KSC server,
/// or a server's managed endpoints). A KSC server may manage thousands of
/// endpoints; the report only needs to name some. Hit: counted as
/// `inventory_peers_dropped`.
pub const INVENTORY_MAX_PEERS_PER_HOST: usize = 64;

/// After SIGINT/SIGTERM, how long a capture thread keeps reading its ring
/// before it stops even if frames are still arriving. Frames already in the
/// ring are read within this time (a TPACKET_V3 block is handed over at the
/// latest after its retire timeout, `AFPACKET_RETIRE_TIMEOUT_MS`); frames that
/// arrive after the request are not "already captured". Frames still unread
/// when it expires are counted as `unread_at_exit`.
pub const LIVE_DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(3);

/// Hosts drawn in the report's timeline picture: beyond a few hundred rows
/// the picture is no longer read at a glance (the tables still list every
/// host). Hit: the rest are named in a note under the picture.
pub const REPORT_MAX_TIMELINE_HOSTS: usize = 200;

/// Names listed per host in the report's tables (most frequent first); the
/// inventory file has them all.
pub const REPORT_MAX_NAMES_PER_HOST: usize = 5;

/// Slots of the attribution stage's table of recent flow starts (16 bytes
/// each, 64 KiB), used to count a retransmitted SYN once. Direct-mapped:
/// a full table forgets, it never grows; a forgotten flow's retransmission
/// counts again, which only inflates a count.
pub const ATTR_RECENT_FLOW_SLOTS: usize = 4_096;

/// A flow start with the same 5-tuple within this time is a retransmission,
/// not a new connection: Linux retransmits a SYN 6 times by default, the
/// last after 1+2+4+8+16+32 = 63 s (RFC 6298 §5 backoff from a 1 s RTO).
pub const ATTR_FLOW_REPEAT_WINDOW_NS: u64 = 64 * 1_000_000_000;

/// Most UDP 5-tuples one worker remembers to tell a flow's first datagram
/// (reported for attribution) from the rest. 16 bytes of key and 8 of time
/// plus map overhead: ~10 MiB per worker. Hit: the set is cleared (a scan
/// per packet would cost more), counted as `udp_flows_evicted`; later
/// datagrams of those flows are reported as new starts.
pub const MAX_UDP_FLOWS_PER_WORKER: usize = 131_072;

/// A UDP tuple silent for this long (packet time) starts a new flow. UDP
/// has no close; 60 s matches common NAT/firewall UDP timeouts.
pub const UDP_FLOW_IDLE_TIMEOUT_NS: u64 = 60 * 1_000_000_000;

/// Event batches queued from the live capture threads to the output thread.
/// Live capture never blocks on output: a batch the queue cannot take is
/// dropped and counted (`queue_drops`). A batch is the events of up to
/// `BATCH_PACKETS` packets (mostly flow starts, a few hundred bytes each), so
/// 256 batches hold bursts of ~65k packets in a few MiB while the output
/// thread (attribution, JSON, network sinks) catches up.
pub const LIVE_OUTPUT_QUEUE_BATCHES: usize = 256;
