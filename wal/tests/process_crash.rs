//! A process crash (the process dies, the OS keeps what it was handed) through the simulated
//! file system: `FaultyFs::freeze` stops every later write at the instant of the "death", and
//! the log is reopened on the same `MemFs` without a power cut. Under `Os` and `Batch` every
//! acknowledged append (also from many threads and tasks at once, sharing group writes, and
//! from `append_no_wait` + `wait_durable`) is there. The real-process version is `kill.rs`.

mod util;

use common::{FaultyFs, MemFs};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use util::*;
use wal::{FsyncPolicy, Record, WalConfig};

const POLICIES: [FsyncPolicy; 2] = [FsyncPolicy::Os, FsyncPolicy::Batch(Duration::from_secs(60))];

fn key_set(mem: &MemFs, policy: FsyncPolicy) -> BTreeSet<Vec<u8>> {
    let (wal, _) = wal::blocking::Wal::open(config(mem, policy)).unwrap();
    read_all(&wal).into_iter().map(|(r, _)| r.key).collect()
}

fn crash_config(mem: &MemFs, faulty: &FaultyFs, policy: FsyncPolicy) -> WalConfig {
    WalConfig {
        fs: faulty.shared(),
        segment_size_bytes: 16 << 10,
        ..config(mem, policy)
    }
}

#[test]
fn blocking_appenders_acknowledged_records_survive_a_process_crash() {
    for policy in POLICIES {
        let mem = MemFs::new();
        let faulty = FaultyFs::new(mem.shared());
        let (wal, _) = wal::blocking::Wal::open(crash_config(&mem, &faulty, policy)).unwrap();
        let acked = Arc::new(Mutex::new(Vec::new()));
        let threads: Vec<_> = (0..6)
            .map(|t| {
                let (wal, acked) = (wal.clone(), acked.clone());
                std::thread::spawn(move || {
                    for i in 0..150 {
                        let key = format!("{t}-{i}");
                        let r = Record::put(&key, [t as u8; 40]);
                        match t % 3 {
                            0 => drop(wal.append(&r).unwrap()),
                            1 => drop(wal.append_batch(&[r]).unwrap()),
                            _ => {
                                let p = wal.append_no_wait(&[r]).unwrap();
                                wal.wait_durable(p[0]).unwrap();
                            }
                        }
                        acked.lock().unwrap().push(key.into_bytes());
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        faulty.freeze(); // the process dies: nothing more reaches the file
        drop(wal);
        let got = key_set(&mem, policy);
        for k in acked.lock().unwrap().iter() {
            assert!(got.contains(k), "{policy:?}: acknowledged {k:?} lost");
        }
    }
}

#[test]
fn async_appenders_acknowledged_records_survive_a_process_crash() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for policy in POLICIES {
        let mem = MemFs::new();
        let faulty = FaultyFs::new(mem.shared());
        // Small segments: many rotations, so leaders also meet seals in progress.
        let cfg = WalConfig {
            segment_size_bytes: 4096,
            ..crash_config(&mem, &faulty, policy)
        };
        let acked: Vec<Vec<u8>> = rt.block_on(async move {
            let (wal, _) = wal::Wal::open(cfg).await.unwrap();
            let tasks: Vec<_> = (0..8)
                .map(|t| {
                    let wal = wal.clone();
                    tokio::spawn(async move {
                        let mut acked = Vec::new();
                        for i in 0..100 {
                            let key = format!("{t}-{i}");
                            let r = Record::put(&key, [t as u8; 40]);
                            if t % 2 == 0 {
                                wal.append(&r).await.unwrap();
                            } else {
                                let p = wal.append_no_wait(&[r]).unwrap();
                                wal.wait_durable(p[0]).await.unwrap();
                            }
                            acked.push(key.into_bytes());
                        }
                        acked
                    })
                })
                .collect();
            // Appends given up after one poll: a leader dropped mid-round (waiting out a
            // seal) must hand the round on, or the other tasks would never finish.
            let impatient = {
                let wal = wal.clone();
                tokio::spawn(async move {
                    let mut acked = Vec::new();
                    for i in 0..300 {
                        let key = format!("impatient-{i}");
                        let r = Record::put(&key, [1u8; 40]);
                        let append = wal.append(&r);
                        if let Ok(res) = tokio::time::timeout(Duration::ZERO, append).await {
                            res.unwrap();
                            acked.push(key.into_bytes());
                        }
                    }
                    acked
                })
            };
            let mut all = Vec::new();
            for t in tasks {
                all.extend(t.await.unwrap());
            }
            let impatient = impatient.await.unwrap();
            faulty.freeze();
            drop(wal);
            assert_eq!(all.len(), 800);
            all.extend(impatient);
            all
        });
        let got = key_set(&mem, policy);
        for k in &acked {
            assert!(got.contains(k), "{policy:?}: acknowledged {k:?} lost");
        }
    }
}
