//! Property test: random appends, batches, syncs, rotations, reopens (clean and after a crash
//! that follows a sync), truncate_after and delete_segments_before, checked against a model
//! (a vector of records with their positions).

mod util;

use common::MemFs;
use proptest::prelude::*;
use util::*;
use wal::blocking::Wal;
use wal::{Compression, FsyncPolicy, Position, Record, WalConfig};

#[derive(Debug, Clone)]
enum Op {
    Append(u8, u16),
    Batch(Vec<(u8, u16)>),
    Sync,
    Rotate,
    Reopen,
    CrashAfterSync,
    TruncateAfter(prop::sample::Index),
    TruncateAll,
    DeleteBefore(prop::sample::Index),
    ReadFrom(prop::sample::Index),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (any::<u8>(), 0u16..600).prop_map(|(k, v)| Op::Append(k, v)),
        3 => prop::collection::vec((any::<u8>(), 0u16..300), 1..6).prop_map(Op::Batch),
        1 => Just(Op::Sync),
        1 => Just(Op::Rotate),
        1 => Just(Op::Reopen),
        1 => Just(Op::CrashAfterSync),
        2 => any::<prop::sample::Index>().prop_map(Op::TruncateAfter),
        1 => Just(Op::TruncateAll),
        1 => any::<prop::sample::Index>().prop_map(Op::DeleteBefore),
        2 => any::<prop::sample::Index>().prop_map(Op::ReadFrom),
    ]
}

fn record(k: u8, v: u16) -> Record {
    if v % 11 == 5 {
        Record::delete([k])
    } else {
        Record::put([k], vec![k; v as usize])
    }
}

fn cfg(fs: &MemFs) -> WalConfig {
    WalConfig {
        segment_size_bytes: 4096,
        write_buffer_bytes: 512,
        compression: Compression::Lz4 { min_bytes: 200 },
        ..config(fs, FsyncPolicy::Os)
    }
}

fn run(ops: Vec<Op>) {
    let mut fs = MemFs::new();
    let (mut wal, _) = Wal::open(cfg(&fs)).unwrap();
    let mut model: Vec<(Record, Position)> = Vec::new();
    for op in ops {
        match op {
            Op::Append(k, v) => {
                let r = record(k, v);
                let expect = wal.current_position();
                let p = wal.append(&r).unwrap();
                assert!(p >= expect);
                assert!(model.last().is_none_or(|(_, q)| *q < p));
                model.push((r, p));
            }
            Op::Batch(items) => {
                let rs: Vec<Record> = items.iter().map(|&(k, v)| record(k, v)).collect();
                let ps = wal.append_batch(&rs).unwrap();
                assert_eq!(ps.len(), rs.len());
                model.extend(rs.into_iter().zip(ps));
            }
            Op::Sync => wal.sync().unwrap(),
            Op::Rotate => {
                let p = wal.rotate().unwrap();
                assert_eq!(wal.current_position(), p);
            }
            Op::Reopen => {
                wal.close().unwrap();
                let (w, info) = Wal::open(cfg(&fs)).unwrap();
                assert_eq!(info.records_read, model.len() as u64);
                assert_eq!(info.bytes_cut, 0);
                assert_eq!(info.last_position, model.last().map(|x| x.1));
                wal = w;
            }
            Op::CrashAfterSync => {
                wal.sync().unwrap();
                let crashed = fs.crash();
                drop(wal);
                fs = crashed;
                let (w, info) = Wal::open(cfg(&fs)).unwrap();
                assert_eq!(info.records_read, model.len() as u64);
                wal = w;
            }
            Op::TruncateAfter(i) => {
                if !model.is_empty() {
                    let i = i.index(model.len());
                    wal.truncate_after(model[i].1).unwrap();
                    model.truncate(i + 1);
                }
            }
            Op::TruncateAll => {
                wal.truncate_after(Position::start()).unwrap();
                model.clear();
            }
            Op::DeleteBefore(i) => {
                if !model.is_empty() {
                    let p = model[i.index(model.len())].1;
                    let active = wal.current_position().segment_id();
                    wal.delete_segments_before(p).unwrap();
                    let limit = p.segment_id().min(active);
                    model.retain(|(_, q)| q.segment_id() >= limit);
                }
            }
            Op::ReadFrom(i) => {
                if !model.is_empty() {
                    let i = i.index(model.len());
                    let mut r = wal.read_from(model[i].1).unwrap();
                    for expect in &model[i..] {
                        assert_eq!(r.next_record().unwrap().as_ref(), Some(expect));
                    }
                    assert_eq!(r.next_record().unwrap(), None);
                }
            }
        }
        assert_eq!(read_all(&wal), model);
    }
    wal.close().unwrap();
    let (wal, info) = Wal::open(cfg(&fs)).unwrap();
    assert_eq!(info.records_read, model.len() as u64);
    assert_eq!(read_all(&wal), model);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]
    #[test]
    fn the_log_behaves_like_the_model(ops in prop::collection::vec(op(), 1..60)) {
        run(ops);
    }
}
