//! Where samples come from. The sampler thread asks a `Source` for the
//! system, the processes and the GPUs; `RealSource` reads sysinfo and NVML,
//! and tests give the sampler a source of fixed values instead.

use super::gpu::NvmlGpus;
use super::sample::{GpuSample, ProcessSample};
use super::system::SystemProbe;

/// Whole-machine CPU and memory at one instant.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SystemReading {
    pub cpu_total_pct: f32,
    pub cpu_per_core_pct: Vec<f32>,
    pub mem_used_bytes: u64,
    pub mem_available_bytes: u64,
    pub swap_used_bytes: u64,
}

/// The followed server (None when not followed or gone) and llmbench itself.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Processes {
    pub server: Option<ProcessSample>,
    pub client: ProcessSample,
}

/// A provider of readings, called once per sample from the sampler thread,
/// in this order: `system`, `processes`, `gpus`.
pub trait Source: Send {
    fn system(&mut self) -> SystemReading;
    /// `server`: the pid to follow with its descendants; `client`: llmbench's pid.
    fn processes(&mut self, server: Option<u32>, client: u32) -> Processes;
    fn gpus(&mut self) -> Vec<GpuSample>;
}

/// The machine itself: sysinfo for CPU, memory and processes; NVML for GPUs.
pub(crate) struct RealSource {
    pub(crate) system: SystemProbe,
    pub(crate) gpus: Option<NvmlGpus>,
}

impl Source for RealSource {
    fn system(&mut self) -> SystemReading {
        self.system.system()
    }

    fn processes(&mut self, server: Option<u32>, client: u32) -> Processes {
        self.system.processes(server, client)
    }

    fn gpus(&mut self) -> Vec<GpuSample> {
        self.gpus.as_ref().map(NvmlGpus::read).unwrap_or_default()
    }
}
