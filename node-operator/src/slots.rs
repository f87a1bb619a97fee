//! How a host's GPUs and CPUs are shared out among its slots: the GPUs of
//! each slot when `ake-node init --slots` partitions them, and each slot's
//! CPU set when the config does not name one.

use crate::config::parse_cpuset;
use crate::gpu::GpuDevice;

/// Splits `devices` into slots of `per_slot` GPUs, keeping each slot on
/// one NUMA node when it can (GPUs with the same CPU affinity), so a slot's
/// GPUs and CPUs are near each other, and within that its GPUs linked by
/// NVLink (see [`by_nvlink`]). Fails when the GPUs do not divide evenly: a
/// partition leaves no GPU unused.
pub fn partition(devices: &[GpuDevice], per_slot: usize) -> Result<Vec<Vec<String>>, String> {
    if per_slot == 0 || devices.is_empty() || !devices.len().is_multiple_of(per_slot) {
        return Err(format!(
            "{} GPUs cannot be split into slots of {per_slot}: choose a size that divides the count (e.g. {})",
            devices.len(),
            divisors(devices.len())
        ));
    }
    // NUMA nodes in the order their first GPU appears.
    let mut nodes: Vec<(&[u32], Vec<&GpuDevice>)> = Vec::new();
    for device in devices {
        match nodes
            .iter_mut()
            .find(|(cpus, _)| *cpus == device.cpus.as_slice())
        {
            Some((_, members)) => members.push(device),
            None => nodes.push((device.cpus.as_slice(), vec![device])),
        }
    }
    // Whole slots from each node first, then what is left, in order.
    let mut slots = Vec::new();
    let mut rest = Vec::new();
    for (_, members) in nodes {
        let members = by_nvlink(members, per_slot);
        let whole = members.len() - members.len() % per_slot;
        for chunk in members[..whole].chunks(per_slot) {
            slots.push(chunk.iter().map(|d| d.uuid.clone()).collect());
        }
        rest.extend(members[whole..].iter().map(|d| d.uuid.clone()));
    }
    slots.extend(rest.chunks(per_slot).map(<[String]>::to_vec));
    Ok(slots)
}

/// Orders one NUMA node's GPUs so that each run of `per_slot` is as linked
/// by NVLink as a greedy pick makes it: a slot starts at the GPU left with
/// the most NVLinks to the others left, and takes, one at a time, the GPU
/// with the most NVLinks into the slot so far (NVML's order breaks ties, so
/// without NVLink, or with every GPU linked, nothing moves).
fn by_nvlink(mut left: Vec<&GpuDevice>, per_slot: usize) -> Vec<&GpuDevice> {
    let mut ordered = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let first = most_linked(&left, &left);
        let mut slot = vec![left.remove(first)];
        while slot.len() < per_slot && !left.is_empty() {
            let best = most_linked(&left, &slot);
            slot.push(left.remove(best));
        }
        ordered.extend(slot);
    }
    ordered
}

/// The index of the GPU of `candidates` with the most NVLinks to `to`
/// (the first such on ties; 0 when there are none).
fn most_linked(candidates: &[&GpuDevice], to: &[&GpuDevice]) -> usize {
    let links = |d: &GpuDevice| {
        to.iter()
            .filter(|o| d.nvlink_peers.contains(&o.uuid))
            .count()
    };
    (0..candidates.len())
        .max_by_key(|&i| (links(candidates[i]), std::cmp::Reverse(i)))
        .unwrap_or(0)
}

fn divisors(n: usize) -> String {
    let found: Vec<String> = (1..=n.max(1))
        .filter(|d| n.is_multiple_of(*d))
        .map(|d| d.to_string())
        .collect();
    found.join(", ")
}

/// Each slot's CPU set: the configured one, else the CPUs near its GPUs
/// (`near`, from NVML's affinity) shared out among the slots near the same
/// CPUs: contiguous equal shares, or one CPU each, in turn, when there are
/// more such slots than CPUs. None when neither is known (a CPU slot
/// without a cpuset: Docker's CPU quota alone applies).
pub fn cpusets(slots: &[(Option<String>, Vec<u32>)]) -> Vec<Option<String>> {
    slots
        .iter()
        .enumerate()
        .map(|(i, (configured, near))| {
            if let Some(set) = configured {
                return Some(set.clone());
            }
            if near.is_empty() {
                return None;
            }
            let sharing: Vec<usize> = (0..slots.len())
                .filter(|&j| slots[j].0.is_none() && slots[j].1 == *near)
                .collect();
            let place = sharing.iter().position(|&j| j == i).unwrap_or(0);
            let share = if near.len() >= sharing.len() {
                let size = near.len() / sharing.len();
                near[place * size..(place + 1) * size].to_vec()
            } else {
                vec![near[place % near.len()]]
            };
            Some(format_cpuset(&share))
        })
        .collect()
}

/// `[0, 1, 2, 5]` as Docker's `0-2,5`.
pub fn format_cpuset(cpus: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let mut j = i;
        while j + 1 < cpus.len() && cpus[j + 1] == cpus[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            cpus[i].to_string()
        } else {
            format!("{}-{}", cpus[i], cpus[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

/// The CPUs near a slot's GPUs: the union of their affinities.
pub fn near_cpus(devices: &[GpuDevice]) -> Vec<u32> {
    let mut cpus: Vec<u32> = devices.iter().flat_map(|d| d.cpus.clone()).collect();
    cpus.sort_unstable();
    cpus.dedup();
    cpus
}

/// True when every CPU of `cpuset` is one this machine has.
pub fn cpuset_on_host(cpuset: &str, host_cpus: usize) -> bool {
    parse_cpuset(cpuset).is_some_and(|cpus| cpus.iter().all(|&c| (c as usize) < host_cpus))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpu(i: u32, cpus: &[u32]) -> GpuDevice {
        GpuDevice {
            index: i,
            uuid: format!("GPU-{i}"),
            model: "NVIDIA H100 80GB HBM3".into(),
            vram_mib: 81_559,
            cpus: cpus.to_vec(),
            mig_parent: None,
            nvlink_peers: Vec::new(),
        }
    }

    /// An 8-GPU, two-socket host: GPUs 0-3 near CPUs 0-31, 4-7 near 32-63.
    fn eight() -> Vec<GpuDevice> {
        let low: Vec<u32> = (0..32).collect();
        let high: Vec<u32> = (32..64).collect();
        (0..8)
            .map(|i| gpu(i, if i < 4 { &low } else { &high }))
            .collect()
    }

    #[test]
    fn every_partition_of_eight_keeps_slots_on_one_socket_when_it_can() {
        let names = |slots: Vec<Vec<String>>| -> Vec<String> {
            slots.iter().map(|s| s.join("+")).collect()
        };
        assert_eq!(partition(&eight(), 1).unwrap().len(), 8);
        assert_eq!(
            names(partition(&eight(), 2).unwrap()),
            ["GPU-0+GPU-1", "GPU-2+GPU-3", "GPU-4+GPU-5", "GPU-6+GPU-7"]
        );
        assert_eq!(
            names(partition(&eight(), 4).unwrap()),
            ["GPU-0+GPU-1+GPU-2+GPU-3", "GPU-4+GPU-5+GPU-6+GPU-7"]
        );
        assert_eq!(partition(&eight(), 8).unwrap().len(), 1);
        let err = partition(&eight(), 3).unwrap_err();
        assert!(err.contains("1, 2, 4, 8"), "{err}");
        // Interleaved sockets (0, 2, 4, 6 on one): pairs stay on a socket.
        let mixed: Vec<GpuDevice> = eight()
            .into_iter()
            .enumerate()
            .map(|(i, mut d)| {
                d.cpus = if i % 2 == 0 { vec![0] } else { vec![1] };
                d
            })
            .collect();
        assert_eq!(
            names(partition(&mixed, 2).unwrap()),
            ["GPU-0+GPU-2", "GPU-4+GPU-6", "GPU-1+GPU-3", "GPU-5+GPU-7"]
        );
    }

    #[test]
    fn multi_gpu_slots_take_gpus_linked_by_nvlink() {
        // One socket, NVLink bridges between GPUs 0-2 and 1-3 (not 0-1).
        let mut four: Vec<GpuDevice> = (0..4).map(|i| gpu(i, &[0, 1])).collect();
        for (a, b) in [(0, 2), (1, 3)] {
            let (ua, ub) = (four[a].uuid.clone(), four[b].uuid.clone());
            four[a].nvlink_peers.push(ub);
            four[b].nvlink_peers.push(ua);
        }
        let pairs = partition(&four, 2).unwrap();
        assert_eq!(pairs, [["GPU-0", "GPU-2"], ["GPU-1", "GPU-3"]]);
        // One bridge, between GPUs 1 and 2: that pair is a slot.
        let mut bridged: Vec<GpuDevice> = (0..4).map(|i| gpu(i, &[0, 1])).collect();
        bridged[1].nvlink_peers.push("GPU-2".into());
        bridged[2].nvlink_peers.push("GPU-1".into());
        let pairs = partition(&bridged, 2).unwrap();
        assert_eq!(pairs, [["GPU-1", "GPU-2"], ["GPU-0", "GPU-3"]]);
        // Single-GPU and whole-host slots are unchanged by links.
        assert_eq!(
            partition(&four, 1).unwrap().concat(),
            ["GPU-0", "GPU-1", "GPU-2", "GPU-3"]
        );
        assert_eq!(partition(&four, 4).unwrap().len(), 1);
        // An NVSwitch host (every GPU linked to every other): NVML's order.
        let mut switched = eight();
        let uuids: Vec<String> = switched.iter().map(|d| d.uuid.clone()).collect();
        for d in &mut switched {
            d.nvlink_peers = uuids.iter().filter(|u| **u != d.uuid).cloned().collect();
        }
        assert_eq!(
            partition(&switched, 2).unwrap(),
            partition(&eight(), 2).unwrap()
        );
    }

    #[test]
    fn cpu_sets_share_each_socket_among_its_slots_and_keep_what_is_configured() {
        let host = eight();
        let slots: Vec<(Option<String>, Vec<u32>)> =
            host.chunks(1).map(|d| (None, near_cpus(d))).collect();
        let sets = cpusets(&slots);
        assert_eq!(
            sets,
            ["0-7", "8-15", "16-23", "24-31", "32-39", "40-47", "48-55", "56-63"]
                .map(|s| Some(s.to_string()))
        );
        // More slots than CPUs: one CPU each, in turn; a configured set wins.
        let tight = vec![
            (None, vec![0]),
            (None, vec![0]),
            (Some("3".to_string()), vec![0]),
            (None, vec![]),
        ];
        assert_eq!(
            cpusets(&tight),
            [
                Some("0".to_string()),
                Some("0".to_string()),
                Some("3".to_string()),
                None
            ]
        );
        assert_eq!(format_cpuset(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
        assert!(cpuset_on_host("0-1", 2) && !cpuset_on_host("0-2", 2));
    }
}
