//! Which run budget is in force (control.md §5): `--max-cost` / `--max-tokens` over the
//! workflow's top-level `budget` over the configuration's (project over user). A resume keeps
//! the values stored in state.json and the command line raises them. Also the one warning at
//! the start of a run whose cost budget cannot see every step's cost.

use crate::cli::CliBudget;
use crate::config::Config;
use crate::state::BudgetInForce;
use crate::workflow::budget::Budget;
use crate::workflow::{AgentMode, Step, StepKind, Workflow};

/// The budget a new run starts with; `None` when nothing limits it.
pub fn for_new_run(cli: CliBudget, workflow: &Workflow, config: &Config) -> Option<BudgetInForce> {
    let given = Budget {
        max_cost_usd: cli.max_cost_usd,
        max_tokens: cli.max_tokens,
        warn_at: None,
    };
    let budget = given
        .or(workflow.budget.unwrap_or_default())
        .or(config.budget);
    stored(budget)
}

/// The budget of a resumed run: what state.json holds, with the command line's values over it.
pub fn for_resume(cli: CliBudget, stored_budget: Option<BudgetInForce>) -> Option<BudgetInForce> {
    let given = Budget {
        max_cost_usd: cli.max_cost_usd,
        max_tokens: cli.max_tokens,
        warn_at: None,
    };
    stored(given.or(as_budget(stored_budget)))
}

/// The form the tracker uses.
pub fn as_budget(stored: Option<BudgetInForce>) -> Budget {
    stored
        .map(|b| Budget {
            max_cost_usd: b.max_cost_usd,
            max_tokens: b.max_tokens,
            warn_at: b.warn_at,
        })
        .unwrap_or_default()
}

fn stored(budget: Budget) -> Option<BudgetInForce> {
    budget.limits_anything().then_some(BudgetInForce {
        max_cost_usd: budget.max_cost_usd,
        max_tokens: budget.max_tokens,
        warn_at: budget.warn_at,
    })
}

/// The warning of a run with a cost budget where headless steps use CLIs that report no cost:
/// `this run's cost budget cannot see the cost of steps "a", "b" (codex reports tokens only);
/// they count toward max_tokens only`.
pub fn cost_blind_warning(
    budget: Option<BudgetInForce>,
    workflow: &Workflow,
    config: &Config,
) -> Option<String> {
    budget.and_then(|b| b.max_cost_usd)?;
    let default_cli = workflow
        .defaults
        .cli
        .clone()
        .or_else(|| config.default_cli.clone())
        .unwrap_or_else(|| "claude".to_owned());
    let mut blind: Vec<(String, String)> = Vec::new();
    collect_blind(&workflow.steps, &default_cli, &mut blind);
    if blind.is_empty() {
        return None;
    }
    let ids: Vec<String> = blind.iter().map(|(id, _)| format!("\"{id}\"")).collect();
    let mut clis: Vec<&str> = blind.iter().map(|(_, cli)| cli.as_str()).collect();
    clis.sort_unstable();
    clis.dedup();
    Some(format!(
        "the cost budget cannot see the cost of step{} {} ({} report{} tokens only); they count toward max_tokens only",
        if ids.len() == 1 { "" } else { "s" },
        ids.join(", "),
        clis.join(", "),
        if clis.len() == 1 { "s" } else { "" },
    ))
}

fn collect_blind(steps: &[Step], default_cli: &str, out: &mut Vec<(String, String)>) {
    for step in steps {
        match &step.kind {
            StepKind::Agent(agent) if agent.mode == AgentMode::Headless => {
                let cli = agent.cli.as_deref().unwrap_or(default_cli);
                let reports_cost =
                    crate::agents::adapter(cli).is_none_or(|a| a.capabilities().cost);
                if !reports_cost {
                    out.push((step.id.clone(), cli.to_owned()));
                }
            }
            other => {
                if let Some(children) = other.children() {
                    collect_blind(children, default_cli, out);
                }
            }
        }
    }
}
