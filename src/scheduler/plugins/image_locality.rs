//! ImageLocality (`framework/plugins/imagelocality/image_locality.go`): prefers nodes that
//! already have the pod's images, scaled by how widely each image is spread.

use crate::scheduler::cache::{NodeInfo, normalized_image_name};
use crate::scheduler::framework::{CycleContext, CycleState, MAX_NODE_SCORE, Plugin, Points};

const MB: i64 = 1024 * 1024;
const MIN_THRESHOLD: i64 = 23 * MB;
const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;

pub struct ImageLocality;

impl Plugin for ImageLocality {
    fn name(&self) -> &'static str {
        "ImageLocality"
    }
    fn points(&self) -> Points {
        Points {
            pre_filter: false,
            filter: false,
            pre_score: false,
            score: true,
        }
    }
    fn score(&self, cx: &CycleContext<'_>, _: &CycleState, node: &NodeInfo) -> i64 {
        let total_nodes = cx.snapshot.len().max(1) as f64;
        let spec = &cx.pod.spec;
        let on_node: Vec<String> = node
            .node()
            .status
            .images
            .iter()
            .flat_map(|i| i.names.iter().map(|n| normalized_image_name(n)))
            .collect();
        let mut sum: i64 = 0;
        for c in spec.init_containers.iter().chain(&spec.containers) {
            let name = normalized_image_name(&c.image);
            if on_node.contains(&name)
                && let Some((size, count)) = cx.snapshot.image(&name)
            {
                sum += (size as f64 * (count as f64 / total_nodes)) as i64;
            }
        }
        let containers = (spec.init_containers.len() + spec.containers.len()) as i64;
        let max_threshold = MAX_CONTAINER_THRESHOLD * containers;
        if max_threshold <= MIN_THRESHOLD {
            return 0;
        }
        let sum = sum.clamp(MIN_THRESHOLD, max_threshold);
        MAX_NODE_SCORE * (sum - MIN_THRESHOLD) / (max_threshold - MIN_THRESHOLD)
    }
}
