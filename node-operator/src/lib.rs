//! Reusable core of `ake-node`, the daemon GPU owners run to serve AKE compute jobs.
//!
//! - [`config`]: node configuration, its validation and the signer key-file check
//! - [`runtime`]: hardened Docker containers for jobs (reattach-safe)
//! - [`gpu`]: GPU inventory, sampling and energy metering through NVML
//! - [`host_security`]: toolkit and driver versions with known container escapes
//! - [`job_machine`]: a job attempt's states and transitions, over the chain, Docker and the store as traits
//! - [`journal`]: crash-safe intent/outcome journal and resume points
//! - [`instance_lock`]: one daemon per state directory
//! - [`outputs`]: Merkle commitment over a job's outputs and its verification
//! - [`output_store`]: upload/download of outputs (local dir or S3)
//! - [`metrics`]: Prometheus metrics and their loopback HTTP endpoint

pub mod config;
pub mod daemon;
pub mod gpu;
pub mod host_security;
pub mod inputs;
pub mod instance_lock;
pub mod job_machine;
pub mod journal;
pub mod metrics;
pub mod output_store;
pub mod outputs;
pub mod readiness;
pub mod runtime;
pub mod slots;
