//! What the trainers keep in a checkpoint folder: their parameters by name, their optimisers'
//! states and their own JSON state (step, log, config). [`Checkpoints::commit`] makes the whole
//! folder appear at once, so a crash while saving leaves the previous checkpoint as it was.

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use malmoi_tensor::Tensor;
use malmoi_tensor::checkpoint::{self, write_atomically};
use malmoi_tensor::optim::{Optimizer, OptimizerState};
use malmoi_transformer::train::Checkpoints;

use crate::error::{Error, Result};

const PARAMETERS_FILE: &str = "parameters.safetensors";
const STATE_FILE: &str = "state.json";

/// Saves checkpoint `step`: `params`, each optimiser's state and `state`.
pub(crate) fn save(
    checkpoints: &Checkpoints,
    step: usize,
    params: &[(String, Tensor)],
    optimizers: &[&dyn Optimizer],
    state: &impl Serialize,
) -> Result<()> {
    checkpoints.commit(step, |folder| -> Result<()> {
        save_parameters(&folder.join(PARAMETERS_FILE), params)?;
        for (i, optimizer) in optimizers.iter().enumerate() {
            optimizer.state().save(folder.join(optimizer_file(i)))?;
        }
        let json = serde_json::to_string(state).map_err(|e| Error::Input(e.to_string()))?;
        write_atomically(&folder.join(STATE_FILE), json.as_bytes())?;
        Ok(())
    })?;
    Ok(())
}

/// The JSON state of the checkpoint in `folder`.
pub(crate) fn read_state<S: DeserializeOwned>(folder: &Path) -> Result<S> {
    let path = folder.join(STATE_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| Error::Io { path: path.clone(), source })?;
    serde_json::from_str(&text).map_err(|e| Error::Input(format!("{}: {e}", path.display())))
}

/// Loads the checkpoint's parameters into `params` and its optimiser states into `optimizers`.
pub(crate) fn load_weights(
    folder: &Path,
    params: &[(String, Tensor)],
    optimizers: &mut [&mut dyn Optimizer],
) -> Result<()> {
    checkpoint::load(folder.join(PARAMETERS_FILE))?.load_into(params)?;
    for (i, optimizer) in optimizers.iter_mut().enumerate() {
        optimizer.load_state(&OptimizerState::load(folder.join(optimizer_file(i)))?)?;
    }
    Ok(())
}

/// The error for a checkpoint written with another configuration.
pub(crate) fn other_config(folder: &Path) -> Error {
    Error::Input(format!("{} was written by a run with another config", folder.display()))
}

fn optimizer_file(i: usize) -> String {
    format!("optimizer-{i}.safetensors")
}

/// Saves named parameters as one safetensors file (atomically).
///
/// # Errors
/// Write errors.
pub fn save_parameters(path: &Path, params: &[(String, Tensor)]) -> Result<()> {
    let arrays: Vec<(String, ndarray::ArrayD<f32>)> = params.iter().map(|(n, p)| (n.clone(), p.to_array())).collect();
    checkpoint::save(path, arrays.iter().map(|(n, a)| (n.as_str(), a)), &std::collections::BTreeMap::new())?;
    Ok(())
}
