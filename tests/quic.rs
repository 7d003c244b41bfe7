mod common;

#[test]
fn debug_gquic() {
    let p = common::root().join("tests/corpus/pcaps/ndpi__gquic.pcap");
    let (r, ev) = common::run(&[p.as_path()], 1);
    eprintln!("{:?}", r.stats.quic);
    eprintln!("{:?}", ev);
}
