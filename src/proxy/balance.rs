//! Choosing one endpoint per connection: the proxy modes' load-balancing rules and
//! ClientIP session affinity, per node (each node's kube-proxy has its own kernel state).
//!
//! - `iptables`: a cascade of `-m statistic --mode random --probability 1/(n-i)` rules
//!   (`pkg/proxy/iptables/proxier.go`), which picks each endpoint with probability 1/n; we
//!   draw that uniform choice in one step (same distribution, one draw instead of up to n).
//! - `nftables`: `numgen random mod N` (`pkg/proxy/nftables/proxier.go`): uniform.
//! - `ipvs` (`pkg/proxy/ipvs/`, the kernel's IPVS schedulers): `rr` (the default), `wrr`,
//!   `lc`, `wlc`, `sed`, `nq`, `sh`, `dh`. kube-proxy gives every real server weight 1, so
//!   `wrr` behaves as `rr` and `wlc` as `lc`; `sh` hashes the client address, `dh` the
//!   destination (the Service VIP, the same for every request, so one endpoint takes all).
//!   `lblc`, `lblcr` and `mh` are not modelled (refused when the scenario is loaded).
//! - ClientIP affinity: iptables' `-m recent --rcheck --seconds T --reap` then `--set` in
//!   the endpoint chain, IPVS persistence with the same timeout: a client keeps its
//!   endpoint while its requests come less than `T` apart and the endpoint is still in the
//!   set; each request refreshes the timer.

use std::collections::HashMap;

use rand::RngExt;

use crate::sim::{RngStream, SimDuration, SimTime};

/// kube-proxy's `--proxy-mode` (and `--ipvs-scheduler`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ProxyMode {
    #[default]
    Iptables,
    Nftables,
    Ipvs(IpvsScheduler),
}

/// The IPVS schedulers kubesim models (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum IpvsScheduler {
    #[default]
    Rr,
    Wrr,
    Lc,
    Wlc,
    Sed,
    Nq,
    Sh,
    Dh,
}

impl IpvsScheduler {
    /// Every scheduler name upstream accepts (`pkg/proxy/apis/config/types.go`); the ones
    /// kubesim does not model give `Err`.
    pub fn parse(name: &str) -> Result<IpvsScheduler, String> {
        Ok(match name {
            "" | "rr" => IpvsScheduler::Rr,
            "wrr" => IpvsScheduler::Wrr,
            "lc" => IpvsScheduler::Lc,
            "wlc" => IpvsScheduler::Wlc,
            "sed" => IpvsScheduler::Sed,
            "nq" => IpvsScheduler::Nq,
            "sh" => IpvsScheduler::Sh,
            "dh" => IpvsScheduler::Dh,
            "lblc" | "lblcr" | "mh" => {
                return Err(format!(
                    "IPVS scheduler {name:?} is not modelled by kubesim"
                ));
            }
            _ => {
                return Err(format!(
                    "unknown IPVS scheduler {name:?} (expected rr, wrr, lc, wlc, sed, nq, sh or dh)"
                ));
            }
        })
    }
}

/// One node's balancing state for one Service.
#[derive(Clone, Debug, Default)]
pub struct BalancerState {
    /// Next position for `rr` (an index into the candidate list, kept modulo its length).
    rr_next: usize,
    /// ClientIP affinity: client id → (endpoint address, last request time).
    affinity: HashMap<u32, (String, SimTime)>,
}

/// Everything a pick needs besides the candidates.
pub struct PickInput<'a> {
    pub now: SimTime,
    pub client: u32,
    pub affinity: Option<SimDuration>,
    /// Addresses (`ip:port`) of the candidates, in rule order.
    pub addrs: &'a [&'a str],
    /// Connections in flight per candidate (for `lc`, `sed`, `nq`).
    pub active: &'a dyn Fn(usize) -> u32,
}

impl BalancerState {
    /// Picks one of `input.addrs` (non-empty); returns its index.
    pub fn pick(&mut self, mode: ProxyMode, input: &PickInput<'_>, rng: &mut RngStream) -> usize {
        let n = input.addrs.len();
        debug_assert!(n > 0);
        if let Some(timeout) = input.affinity {
            if let Some((addr, last)) = self.affinity.get(&input.client)
                && input.now.saturating_since(*last) < timeout
                && let Some(i) = input.addrs.iter().position(|a| a == addr)
            {
                self.affinity
                    .insert(input.client, (input.addrs[i].to_string(), input.now));
                return i;
            }
            let i = self.choose(mode, input, rng);
            // Bounded by the number of distinct clients of the traffic source.
            self.affinity
                .insert(input.client, (input.addrs[i].to_string(), input.now));
            return i;
        }
        self.choose(mode, input, rng)
    }

    fn choose(&mut self, mode: ProxyMode, input: &PickInput<'_>, rng: &mut RngStream) -> usize {
        let n = input.addrs.len();
        match mode {
            ProxyMode::Iptables | ProxyMode::Nftables => rng.random_range(0..n),
            ProxyMode::Ipvs(s) => match s {
                IpvsScheduler::Rr | IpvsScheduler::Wrr => {
                    let i = self.rr_next % n;
                    self.rr_next = (i + 1) % n;
                    i
                }
                IpvsScheduler::Lc | IpvsScheduler::Wlc => {
                    (0..n).min_by_key(|&i| (input.active)(i)).unwrap_or(0)
                }
                // Shortest expected delay: (active + 1) / weight, weights all 1.
                IpvsScheduler::Sed => (0..n).min_by_key(|&i| (input.active)(i)).unwrap_or(0),
                // Never queue: an idle server if there is one, else SED.
                IpvsScheduler::Nq => (0..n)
                    .find(|&i| (input.active)(i) == 0)
                    .unwrap_or_else(|| (0..n).min_by_key(|&i| (input.active)(i)).unwrap_or(0)),
                IpvsScheduler::Sh => (fnv1a(&input.client.to_le_bytes()) % n as u64) as usize,
                IpvsScheduler::Dh => 0,
            },
        }
    }
}

/// FNV-1a, a fixed hash for `sh` (never the process-seeded std hasher).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
