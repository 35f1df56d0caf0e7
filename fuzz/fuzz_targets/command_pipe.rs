//! The command pipe's request lines come from the task, so from anything
//! the task runs: parsing must never panic, and what it accepts must
//! survive a round trip through the encoder. The snapshot flag parser
//! gets every accepted request.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tr_run::protocol;
use tr_run::snapshot::SnapshotArgs;

fuzz_target!(|line: &[u8]| {
    let Ok(words) = protocol::parse(line) else {
        return;
    };
    let encoded = protocol::encode(&words);
    assert!(!encoded.contains(&b'\n'), "an encoded request is one line");
    assert_eq!(protocol::parse(&encoded).as_ref(), Ok(&words));
    let _ = SnapshotArgs::parse(words);
});
