//! Use case 4: Transaction log: a multi-record transaction committed atomically with `append_batch`;
//! after a crash, either the whole transaction or nothing.
//!
//! **When:** one logical change touches several keys (a transfer debits one account and
//! credits another; an index entry and its row) and a crash must never leave half of it. The
//! log is the redo log: the in-memory state is applied only after the batch is logged, and
//! recovery replays whole batches.
//!
//! **FsyncPolicy:** `Always`: `commit` returning is the promise "this transaction happened";
//! concurrent transactions share each fdatasync (group commit).
//!
//! Why no COMMIT record: `append_batch` writes the records as one batch whose frames are marked
//! first..last; recovery keeps a batch only if its last frame is whole and checksummed, so a
//! torn batch is cut back entirely. Appending the records one by one (even with a COMMIT record
//! at the end) would need recovery to find and discard the uncommitted prefix itself.

use crate::error::{Error, Result};
use crate::setup::wal_config;
use common::FileSystem;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use wal::blocking::Wal;
use wal::{FsyncPolicy, Position, Record};

/// Accounts and balances, changed only by logged transactions.
#[derive(Debug)]
pub struct Bank {
    wal: Wal,
    balances: BTreeMap<String, i64>,
}

fn balance_record(account: &str, balance: i64) -> Record {
    Record::put(account.as_bytes(), balance.to_le_bytes())
}

impl Bank {
    /// Opens the bank in `dir` and replays its log.
    pub fn open(fs: Arc<dyn FileSystem>, dir: &Path) -> Result<Bank> {
        let wal_dir = dir.join("txlog");
        let (wal, _) = Wal::open(wal_config(&fs, &wal_dir, FsyncPolicy::Always, 64 << 20))?;
        let mut balances = BTreeMap::new();
        let mut reader = wal.read_from(Position::start())?;
        while let Some((record, at)) = reader.next_record()? {
            let account =
                String::from_utf8(record.key).map_err(|e| Error::bad_record(&wal_dir, at, e))?;
            let bytes: [u8; 8] = record
                .value
                .as_slice()
                .try_into()
                .map_err(|_| Error::bad_record(&wal_dir, at, "a balance is 8 bytes"))?;
            balances.insert(account, i64::from_le_bytes(bytes));
        }
        Ok(Bank { wal, balances })
    }

    /// Opens accounts with initial balances, as one transaction.
    pub fn open_accounts(&mut self, accounts: &[(&str, i64)]) -> Result<()> {
        let records: Vec<Record> = accounts
            .iter()
            .map(|(a, b)| balance_record(a, *b))
            .collect();
        self.wal.append_batch(&records)?;
        for (a, b) in accounts {
            self.balances.insert(a.to_string(), *b);
        }
        Ok(())
    }

    /// Moves `amount` from one account to another: both new balances in one atomic batch,
    /// applied in memory only once logged. Returns the batch's positions.
    pub fn transfer(&mut self, from: &str, to: &str, amount: i64) -> Result<Vec<Position>> {
        self.transfer_many(from, &[(to, amount)])
    }

    /// Pays several accounts from one: every new balance in one atomic batch.
    pub fn transfer_many(&mut self, from: &str, to: &[(&str, i64)]) -> Result<Vec<Position>> {
        let f = self.balance(from)?;
        let mut changes: Vec<(String, i64)> = Vec::new();
        let mut total = 0;
        for &(account, amount) in to {
            let t = self.balance(account)?;
            if account == from || amount <= 0 || changes.iter().any(|(a, _)| a == account) {
                return Err(Error::Invalid(format!(
                    "cannot pay {amount} from {from} to {account}"
                )));
            }
            let overflow = || Error::Invalid(format!("paying {amount} to {account} overflows"));
            total = i64::checked_add(total, amount).ok_or_else(overflow)?;
            changes.push((
                account.to_string(),
                t.checked_add(amount).ok_or_else(overflow)?,
            ));
        }
        if total > f {
            return Err(Error::Invalid(format!(
                "{from} has {f}, cannot pay {total}"
            )));
        }
        changes.insert(0, (from.to_string(), f - total));
        let records: Vec<Record> = changes.iter().map(|(a, b)| balance_record(a, *b)).collect();
        let positions = self.wal.append_batch(&records)?;
        self.balances.extend(changes);
        Ok(positions)
    }

    /// The same transfer done wrong, as two separate appends: a crash between them loses money.
    /// (Kept to show in the tests what `append_batch` prevents.)
    pub fn transfer_unbatched(&mut self, from: &str, to: &str, amount: i64) -> Result<()> {
        let (f, t) = self.check(from, to, amount)?;
        self.wal.append(&balance_record(from, f - amount))?;
        self.wal.append(&balance_record(to, t + amount))?;
        self.balances.insert(from.into(), f - amount);
        self.balances.insert(to.into(), t + amount);
        Ok(())
    }

    fn balance(&self, account: &str) -> Result<i64> {
        self.balances
            .get(account)
            .copied()
            .ok_or_else(|| Error::Invalid(format!("no account {account}")))
    }

    fn check(&self, from: &str, to: &str, amount: i64) -> Result<(i64, i64)> {
        let (f, t) = (self.balance(from)?, self.balance(to)?);
        if from == to || amount <= 0 || f < amount || t.checked_add(amount).is_none() {
            return Err(Error::Invalid(format!(
                "cannot move {amount} from {from} ({f}) to {to}"
            )));
        }
        Ok((f, t))
    }

    /// The position the next record gets (for showing where a transaction's bytes are).
    pub fn wal_position(&self) -> Position {
        self.wal.current_position()
    }

    /// Every balance.
    pub fn balances(&self) -> &BTreeMap<String, i64> {
        &self.balances
    }

    /// The sum of all balances: transfers never change it.
    pub fn total(&self) -> i128 {
        self.balances.values().map(|&b| i128::from(b)).sum()
    }

    /// Closes the log.
    pub fn close(self) -> Result<()> {
        Ok(self.wal.close()?)
    }
}

/// What the program observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Balances after the restart.
    pub balances: BTreeMap<String, i64>,
    /// Cuts inside the crashed transaction tried, and how many recovered to "before" and to
    /// "after" (the rest: none, or the program fails).
    pub cuts: (usize, usize, usize),
}

/// Every length of `file` from `from` to `to` bytes, each applied to a fresh copy of the
/// crashed file system: returns the copies.
pub fn cut_copies(
    crashed: &common::MemFs,
    file: &Path,
    from: u64,
    to: u64,
) -> Result<Vec<common::MemFs>> {
    let bytes = crashed.read_all(file)?;
    let mut copies = Vec::new();
    for len in from..=to.min(bytes.len() as u64) {
        let copy = crashed.crash();
        copy.write_all(file, &bytes[..len as usize])?;
        copies.push(copy);
    }
    Ok(copies)
}

/// The segment file of a position.
pub fn segment_file(wal_dir: &Path, at: Position) -> std::path::PathBuf {
    wal_dir.join(wal::format::segment_file_name(at.segment_id()))
}

/// The program: transfers, a restart, then a simulated crash cut at every byte of a transfer
/// (on the in-memory file system, whatever directory it was given).
pub fn run(fs: Arc<dyn FileSystem>, dir: &Path, out: &mut dyn Write) -> Result<Summary> {
    writeln!(out, "tx_log in {} (FsyncPolicy::Always)", dir.display())?;
    let mut bank = Bank::open(fs.clone(), dir)?;
    bank.open_accounts(&[("alice", 100), ("bob", 50), ("carol", 0)])?;
    bank.transfer("alice", "bob", 30)?;
    bank.transfer("bob", "carol", 60)?;
    writeln!(
        out,
        "2 transfers committed: {:?}, total {}",
        bank.balances(),
        bank.total()
    )?;
    bank.close()?;
    let bank = Bank::open(fs, dir)?;
    writeln!(
        out,
        "after a restart: {:?}, total {}",
        bank.balances(),
        bank.total()
    )?;
    let balances = bank.balances().clone();
    bank.close()?;

    // The crash: on a simulated disk, log one more transfer and cut the log at every byte of it.
    let mem = common::MemFs::new();
    let sim = Path::new("/bank");
    let mut bank = Bank::open(mem.shared(), sim)?;
    bank.open_accounts(&[("alice", 100), ("bob", 50)])?;
    let start = bank.wal.current_position();
    let positions = bank.transfer("alice", "bob", 70)?;
    let end = bank.wal.current_position();
    let crashed = mem.crash();
    drop(bank);
    let file = segment_file(&sim.join("txlog"), positions[0]);
    let (mut before, mut after) = (0, 0);
    let copies = cut_copies(&crashed, &file, start.offset(), end.offset())?;
    let tried = copies.len();
    for copy in copies {
        let bank = Bank::open(copy.shared(), sim)?;
        match (bank.balances()["alice"], bank.balances()["bob"]) {
            (100, 50) => before += 1,
            (30, 120) => after += 1,
            other => {
                return Err(Error::Invalid(format!(
                    "half a transaction survived: {other:?}"
                )))
            }
        }
    }
    writeln!(
        out,
        "crash cut at each of the {tried} byte offsets {}..={} of a 2-record transfer: {before} recover the state before it, {after} the state after, none half",
        start.offset(),
        end.offset()
    )?;
    Ok(Summary {
        balances,
        cuts: (tried, before, after),
    })
}
