//! [`apply`]: the shape of the tree once a task's result is installed. Pure, like the picker;
//! the engine applies the same change to its own version through one manifest edit.

use crate::error::{Error, Result};
use crate::levels::{Levels, TableInfo};
use crate::task::Task;

/// The tree after `task` finished with `outputs` (for a trivial move, pass no outputs: the
/// input table itself moves to the output level). Fails, without changing anything, if an
/// input is not where the task says, or if the result would break the level invariants.
pub fn apply(levels: &Levels, task: &Task, outputs: &[TableInfo]) -> Result<Levels> {
    let bad = |reason: String| Err(Error::InvalidTask { reason });
    if task.output_level == 0 || task.output_level >= levels.num_levels() {
        return bad(format!(
            "output level {} is not in 1..{}",
            task.output_level,
            levels.num_levels()
        ));
    }
    if task.is_trivial_move && !outputs.is_empty() {
        return bad("a trivial move takes no outputs".into());
    }
    let mut next = levels.clone();
    let mut moved = Vec::new();
    {
        let tree = next.levels_mut();
        for inputs in &task.inputs {
            let Some(level) = tree.get_mut(inputs.level) else {
                return bad(format!("input level {} does not exist", inputs.level));
            };
            for t in &inputs.tables {
                let Some(i) = level.iter().position(|x| x.id == t.id) else {
                    return bad(format!(
                        "input table {} is not in level {}",
                        t.id, inputs.level
                    ));
                };
                moved.push(level.remove(i));
            }
        }
        let added: Vec<TableInfo> = if task.is_trivial_move {
            moved
        } else {
            outputs.to_vec()
        };
        let out = &mut tree[task.output_level];
        out.extend(added);
        out.sort_by(|a, b| a.smallest.cmp(&b.smallest));
    }
    if let Err(e) = next.check() {
        return bad(format!("installing the outputs breaks the tree: {e}"));
    }
    Ok(next)
}
