//! NVIDIA GPUs through NVML (nvml-wrapper loads libnvidia-ml at run time):
//! utilisation, memory, power, temperature, clocks and the total-energy
//! counter. Where NVML cannot start, `GpuStatus::Unavailable` says why.

use super::sample::GpuSample;
use super::{GpuMode, GpuStatus, MonitorError};
use nvml_wrapper::enum_wrappers::device::{Clock, TemperatureSensor};
use nvml_wrapper::Nvml;
use serde::{Deserialize, Serialize};

/// A GPU found when monitoring started.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct GpuDevice {
    pub index: u32,
    pub name: String,
    pub mem_total_bytes: Option<u64>,
    /// Whether the device reports the total-energy counter (Volta and newer).
    pub energy_counter: bool,
}

/// An open NVML session and the devices it found.
pub(crate) struct NvmlGpus {
    nvml: Nvml,
    devices: Vec<GpuDevice>,
}

impl NvmlGpus {
    /// Starts NVML and lists the devices; the error says why it cannot.
    pub(crate) fn open() -> Result<NvmlGpus, String> {
        let nvml = Nvml::init().map_err(|e| {
            format!("NVML could not start ({e}); no NVIDIA driver (libnvidia-ml) on this machine?")
        })?;
        let count = nvml
            .device_count()
            .map_err(|e| format!("NVML could not count GPUs: {e}"))?;
        if count == 0 {
            return Err("NVML started but found no NVIDIA GPU".to_string());
        }
        let mut devices = Vec::with_capacity(count as usize);
        for index in 0..count {
            let device = nvml
                .device_by_index(index)
                .map_err(|e| format!("NVML could not open GPU {index}: {e}"))?;
            devices.push(GpuDevice {
                index,
                name: device.name().unwrap_or_else(|_| format!("GPU {index}")),
                mem_total_bytes: device.memory_info().ok().map(|m| m.total),
                energy_counter: device.total_energy_consumption().is_ok(),
            });
        }
        Ok(NvmlGpus { nvml, devices })
    }

    pub(crate) fn devices(&self) -> &[GpuDevice] {
        &self.devices
    }

    pub(crate) fn driver_version(&self) -> Option<String> {
        self.nvml.sys_driver_version().ok()
    }

    /// One reading per device; a reading the device refuses is left out.
    pub(crate) fn read(&self) -> Vec<GpuSample> {
        self.devices
            .iter()
            .map(|d| match self.nvml.device_by_index(d.index) {
                Ok(device) => {
                    let memory = device.memory_info().ok();
                    GpuSample {
                        index: d.index,
                        name: d.name.clone(),
                        util_pct: device.utilization_rates().ok().map(|u| u.gpu as f32),
                        mem_used_bytes: memory.as_ref().map(|m| m.used),
                        mem_total_bytes: memory.as_ref().map(|m| m.total),
                        power_w: device.power_usage().ok().map(|mw| f64::from(mw) / 1e3),
                        temp_c: device
                            .temperature(TemperatureSensor::Gpu)
                            .ok()
                            .map(|c| c as f32),
                        sm_clock_mhz: device.clock_info(Clock::SM).ok(),
                        mem_clock_mhz: device.clock_info(Clock::Memory).ok(),
                        energy_mj: device.total_energy_consumption().ok(),
                    }
                }
                Err(_) => GpuSample {
                    index: d.index,
                    name: d.name.clone(),
                    ..GpuSample::default()
                },
            })
            .collect()
    }
}

/// Opens GPU monitoring as `mode` asks: `Off` → none; `Auto` → NVML when it
/// starts, else the reason; `Nvml` → NVML or an error.
pub(crate) fn open_gpus(mode: GpuMode) -> Result<(Option<NvmlGpus>, GpuStatus), MonitorError> {
    match mode {
        GpuMode::Off => Ok((None, GpuStatus::Off)),
        GpuMode::Auto | GpuMode::Nvml => match NvmlGpus::open() {
            Ok(gpus) => {
                let status = GpuStatus::Available {
                    driver_version: gpus.driver_version(),
                    devices: gpus.devices().to_vec(),
                };
                Ok((Some(gpus), status))
            }
            Err(reason) if mode == GpuMode::Auto => Ok((None, GpuStatus::Unavailable { reason })),
            Err(reason) => Err(MonitorError::Nvml { reason }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_never_touches_nvml() {
        let (gpus, status) = open_gpus(GpuMode::Off).expect("off always works");
        assert!(gpus.is_none());
        assert_eq!(status, GpuStatus::Off);
    }

    #[test]
    fn auto_and_nvml_agree_on_what_nvml_says() {
        let (auto, status) = open_gpus(GpuMode::Auto).expect("auto never fails");
        let explicit = open_gpus(GpuMode::Nvml);
        match status {
            GpuStatus::Available { devices, .. } => {
                assert!(!devices.is_empty());
                assert_eq!(auto.map(|g| g.read().len()), Some(devices.len()));
                assert!(explicit.is_ok());
            }
            GpuStatus::Unavailable { reason } => {
                assert!(reason.contains("NVML"), "{reason}");
                let error = explicit.err().map(|e| e.to_string()).unwrap_or_default();
                assert!(error.contains(&reason), "{error}");
            }
            GpuStatus::Off => panic!("auto is never off"),
        }
    }
}
