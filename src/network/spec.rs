//! `spec.network`: link properties per class, client locations and per-link overrides.
//!
//! Every field and default is documented in `docs/scenario-format.md` (`network`). Without
//! the section the defaults below apply; they add no delay on the control plane's paths, so
//! a run without `network:` keeps the API server's watch latency as its only delay.

use serde::Deserialize;

use super::topology::Vertex;
use crate::kubelet::behavior::Distribution;
use crate::sim::SimDuration;

/// Name of the client location every network has.
pub const INTERNET: &str = "internet";

/// A link's properties: a one-way latency distribution, drawn per packet, and a loss
/// probability per traversal.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkProps {
    pub latency: Distribution,
    pub loss: f64,
}

impl LinkProps {
    pub const fn constant(latency: SimDuration) -> LinkProps {
        LinkProps {
            latency: Distribution::Constant(latency),
            loss: 0.0,
        }
    }

    /// The latency the path search weighs the link by: the distribution's mean (its median
    /// for a lognormal).
    pub fn nominal_nanos(&self) -> u64 {
        nominal(&self.latency).as_nanos()
    }
}

/// A distribution's central value, for path selection.
pub fn nominal(d: &Distribution) -> SimDuration {
    match *d {
        Distribution::Constant(c) => c,
        Distribution::Uniform { min, max } => {
            SimDuration::from_nanos(min.as_nanos() / 2 + max.as_nanos() / 2)
        }
        Distribution::Exponential { mean } => mean,
        Distribution::Normal { mean, .. } => mean,
        Distribution::Lognormal { median, .. } => median,
    }
}

/// Properties as written: each field optional, falling back to the link class's.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PropsSpec {
    #[serde(default)]
    pub latency: Option<Distribution>,
    #[serde(default)]
    pub loss: Option<f64>,
}

impl PropsSpec {
    pub fn resolve(&self, default: &LinkProps) -> LinkProps {
        LinkProps {
            latency: self.latency.clone().unwrap_or(default.latency.clone()),
            loss: self.loss.unwrap_or(default.loss),
        }
    }
}

/// Default properties of each class of link.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkClasses {
    /// Control plane to zone. Default 0 s, no loss (the API server's watch latency already
    /// stands for the control plane's own delay).
    pub control_plane_zone: LinkProps,
    /// Zone to zone. Default 1 ms, no loss.
    pub zone_zone: LinkProps,
    /// Rack to zone. Default 0 s, no loss.
    pub rack_zone: LinkProps,
    /// Node to its rack or zone. Default 0 s, no loss.
    pub node_zone: LinkProps,
    /// Client location to zone. Default 10 ms, no loss.
    pub client_zone: LinkProps,
}

impl Default for LinkClasses {
    fn default() -> Self {
        LinkClasses {
            control_plane_zone: LinkProps::constant(SimDuration::ZERO),
            zone_zone: LinkProps::constant(SimDuration::from_millis(1)),
            rack_zone: LinkProps::constant(SimDuration::ZERO),
            node_zone: LinkProps::constant(SimDuration::ZERO),
            client_zone: LinkProps::constant(SimDuration::from_millis(10)),
        }
    }
}

/// A client location: where requests come from.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientSpec {
    pub name: String,
    /// The zones it has links to; `None`: every zone.
    pub zones: Option<Vec<String>>,
    /// Its links' properties (falling back to `links.clientZone`).
    pub props: PropsSpec,
}

/// A link's properties set by hand (or a link added where the default topology has none).
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    pub between: [Vertex; 2],
    /// Unset fields keep the link class's default (0 s, no loss for a link the default
    /// topology does not have).
    pub props: PropsSpec,
}

/// `spec.network`, checked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NetworkSpec {
    pub links: LinkClasses,
    pub clients: Vec<ClientSpec>,
    pub overrides: Vec<Override>,
}

impl NetworkSpec {
    /// `internet` and the spec's clients, each once, in name order.
    pub fn client_names(&self) -> Vec<String> {
        let mut names: std::collections::BTreeSet<String> =
            self.clients.iter().map(|c| c.name.clone()).collect();
        names.insert(INTERNET.to_string());
        names.into_iter().collect()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    links: RawClasses,
    #[serde(default)]
    clients: Vec<RawClient>,
    #[serde(default)]
    overrides: Vec<RawOverride>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawClasses {
    #[serde(default)]
    control_plane_zone: PropsSpec,
    #[serde(default)]
    zone_zone: PropsSpec,
    #[serde(default)]
    rack_zone: PropsSpec,
    #[serde(default)]
    node_zone: PropsSpec,
    #[serde(default)]
    client_zone: PropsSpec,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawClient {
    name: String,
    #[serde(default)]
    zones: Option<Vec<String>>,
    #[serde(default)]
    latency: Option<Distribution>,
    #[serde(default)]
    loss: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawOverride {
    between: Vec<String>,
    #[serde(default)]
    latency: Option<Distribution>,
    #[serde(default)]
    loss: Option<f64>,
}

fn check_loss(loss: Option<f64>, path: &str, problems: &mut Vec<(String, String)>) {
    if let Some(l) = loss
        && !(0.0..=1.0).contains(&l)
    {
        problems.push((
            format!("{path}.loss"),
            format!("Invalid value: {l}: must be between 0 and 1"),
        ));
    }
}

/// Decodes and checks `spec.network`; problems come as (field path, message).
pub fn parse(value: &serde_json::Value) -> Result<NetworkSpec, Vec<(String, String)>> {
    let raw: Raw = serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.path().to_string();
        let path = if inner == "." {
            "spec.network".to_string()
        } else {
            format!("spec.network.{inner}")
        };
        vec![(path, e.inner().to_string())]
    })?;
    let mut problems = Vec::new();
    let defaults = LinkClasses::default();
    let classes = [
        ("controlPlaneZone", &raw.links.control_plane_zone),
        ("zoneZone", &raw.links.zone_zone),
        ("rackZone", &raw.links.rack_zone),
        ("nodeZone", &raw.links.node_zone),
        ("clientZone", &raw.links.client_zone),
    ];
    for (name, p) in classes {
        check_loss(p.loss, &format!("spec.network.links.{name}"), &mut problems);
    }
    let links = LinkClasses {
        control_plane_zone: raw
            .links
            .control_plane_zone
            .resolve(&defaults.control_plane_zone),
        zone_zone: raw.links.zone_zone.resolve(&defaults.zone_zone),
        rack_zone: raw.links.rack_zone.resolve(&defaults.rack_zone),
        node_zone: raw.links.node_zone.resolve(&defaults.node_zone),
        client_zone: raw.links.client_zone.resolve(&defaults.client_zone),
    };
    let mut clients: Vec<ClientSpec> = Vec::new();
    for (i, c) in raw.clients.into_iter().enumerate() {
        let path = format!("spec.network.clients[{i}]");
        check_loss(c.loss, &path, &mut problems);
        if c.name.is_empty() || c.name.contains('/') {
            problems.push((
                format!("{path}.name"),
                format!("Invalid value: {:?}: a non-empty name without '/'", c.name),
            ));
        }
        if clients.iter().any(|x| x.name == c.name) {
            problems.push((
                format!("{path}.name"),
                format!("Duplicate value: {:?}", c.name),
            ));
        }
        clients.push(ClientSpec {
            name: c.name,
            zones: c.zones,
            props: PropsSpec {
                latency: c.latency,
                loss: c.loss,
            },
        });
    }
    let mut overrides = Vec::new();
    for (i, o) in raw.overrides.into_iter().enumerate() {
        let path = format!("spec.network.overrides[{i}]");
        check_loss(o.loss, &path, &mut problems);
        let ends: Vec<Result<Vertex, String>> =
            o.between.iter().map(|s| Vertex::parse(s)).collect();
        match ends.as_slice() {
            [Ok(a), Ok(b)] if a != b => overrides.push(Override {
                between: [a.clone(), b.clone()],
                props: PropsSpec {
                    latency: o.latency,
                    loss: o.loss,
                },
            }),
            [Ok(_), Ok(_)] => problems.push((
                format!("{path}.between"),
                "Invalid value: a link joins two different places".into(),
            )),
            [a, b] => {
                for e in [a, b].into_iter().filter_map(|r| r.as_ref().err()) {
                    problems.push((format!("{path}.between"), format!("Invalid value: {e}")));
                }
            }
            _ => problems.push((
                format!("{path}.between"),
                format!(
                    "Invalid value: {} places: expected exactly two",
                    o.between.len()
                ),
            )),
        }
    }
    if problems.is_empty() {
        Ok(NetworkSpec {
            links,
            clients,
            overrides,
        })
    } else {
        Err(problems)
    }
}
