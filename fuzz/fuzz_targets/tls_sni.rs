//! `extract::tls` on arbitrary bytes, and differentially against
//! tls-parser: the input is taken as a bare handshake message; whenever
//! tls-parser finds a host_name in it, our scanner must find the same one,
//! both on the bare message and wrapped in one TLS record (and, split in
//! records of 7 bytes, joined from fragments).
#![no_main]
use libfuzzer_sys::fuzz_target;
use phonehome::extract::tls::{HelloScan, parse_client_hello_body, scan_client_hello};
use tls_parser::{SNIType, TlsExtension, TlsMessage, TlsMessageHandshake};

fn tls_parser_sni(msg: &[u8]) -> Option<Vec<u8>> {
    let Ok((_, TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch)))) =
        tls_parser::parse_tls_message_handshake(msg)
    else {
        return None;
    };
    let (_, exts) = tls_parser::parse_tls_client_hello_extensions(ch.ext?).ok()?;
    let names = exts.into_iter().find_map(|e| match e {
        TlsExtension::SNI(names) => Some(names),
        _ => None,
    })?;
    let (_, name) = names.into_iter().find(|(t, _)| *t == SNIType::HostName)?;
    // Our scanner reports an empty host_name as no name.
    (!name.is_empty()).then(|| name.to_vec())
}

fn records(msg: &[u8], frag: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for chunk in msg.chunks(frag) {
        v.extend_from_slice(&[0x16, 0x03, 0x01]);
        v.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
        v.extend_from_slice(chunk);
    }
    v
}

fn sni(scan: HelloScan<'_>) -> Option<Vec<u8>> {
    match scan {
        HelloScan::Hello { sni, .. } => sni.map(<[u8]>::to_vec),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut scratch = Vec::new();
    // As a stream start: must not panic.
    let _ = scan_client_hello(data, &mut scratch);

    let Some(theirs) = tls_parser_sni(data) else {
        return;
    };
    // tls-parser consumed a whole message: its length is in the header.
    let Some(len) = data
        .get(1..4)
        .map(|b| usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]))
    else {
        return;
    };
    let msg = &data[..4 + len];
    assert_eq!(sni(parse_client_hello_body(msg)), Some(theirs.clone()));
    if msg.len() <= 16384 {
        assert_eq!(
            sni(scan_client_hello(&records(msg, 16384), &mut scratch)),
            Some(theirs.clone())
        );
    }
    assert_eq!(
        sni(scan_client_hello(&records(msg, 7), &mut scratch)),
        Some(theirs)
    );
});
