//! ImageLocality (`framework/plugins/imagelocality/image_locality.go`): prefers nodes that
//! already have the pod's images, scaled by how widely each image is spread.
//!
//! The pod's normalized image names are computed once per cycle (PreScore); each node keeps
//! its normalized names sorted, so scoring a node is a few binary searches.

use crate::scheduler::cache::{NodeInfo, normalized_image_name};
use crate::scheduler::framework::{
    CycleContext, CycleState, MAX_NODE_SCORE, Plugin, Points, Status,
};

const MB: i64 = 1024 * 1024;
const MIN_THRESHOLD: i64 = 23 * MB;
const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;
const NAME: &str = "ImageLocality";

pub struct ImageLocality;

/// The pod's images, normalized, one entry per container (init containers included).
struct PodImages(Vec<String>);

impl Plugin for ImageLocality {
    /// Reads only the pod and the set of nodes (image spread).
    fn node_local(&self) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        NAME
    }
    fn points(&self) -> Points {
        Points::new(false, false, true, true)
    }
    fn pre_score(&self, cx: &CycleContext<'_>, state: &mut CycleState, _: &[&NodeInfo]) -> Status {
        let spec = &cx.pod.spec;
        let images = spec
            .init_containers
            .iter()
            .chain(&spec.containers)
            .map(|c| normalized_image_name(&c.image))
            .collect();
        state.write(NAME, PodImages(images));
        Status::success()
    }
    fn score(&self, cx: &CycleContext<'_>, state: &CycleState, node: &NodeInfo) -> i64 {
        let Some(PodImages(images)) = state.read::<PodImages>(NAME) else {
            return 0;
        };
        let total_nodes = cx.snapshot.len().max(1) as f64;
        let mut sum: i64 = 0;
        if !node.images.is_empty() {
            for name in images {
                if node.images.binary_search(name).is_ok()
                    && let Some((size, count)) = cx.snapshot.image(name)
                {
                    sum += (size as f64 * (count as f64 / total_nodes)) as i64;
                }
            }
        }
        let max_threshold = MAX_CONTAINER_THRESHOLD * images.len() as i64;
        if max_threshold <= MIN_THRESHOLD {
            return 0;
        }
        let sum = sum.clamp(MIN_THRESHOLD, max_threshold);
        MAX_NODE_SCORE * (sum - MIN_THRESHOLD) / (max_threshold - MIN_THRESHOLD)
    }
}
