//! The runtime's control-plane outage mode: component writes fail with ServiceUnavailable,
//! watch deliveries are held, and at the end they are delivered in order.

use std::cell::RefCell;
use std::rc::Rc;

use kubesim::api::objects::{Kind, Object, Pod};
use kubesim::api::{ApiError, WatchEvent, WatchFilter};
use kubesim::runtime::{Cluster, Component, Context, RunConfig};
use kubesim::sim::SimDuration;

fn pod(name: &str) -> Object {
    let mut p = Pod::default();
    p.metadata.name = name.into();
    p.metadata.namespace = "default".into();
    p.spec
        .containers
        .push(kubesim::api::objects::pod::Container {
            name: "c".into(),
            image: "busybox".into(),
            ..Default::default()
        });
    Object::Pod(p)
}

type Results = Rc<RefCell<Vec<String>>>;

/// t=1s create a, t=1.001s outage starts, t=2s create b (refused), t=5s outage ends, t=6s
/// create c.
struct Script(Results);

impl Component for Script {
    fn name(&self) -> String {
        "script".into()
    }
    fn watches(&self) -> Vec<WatchFilter> {
        Vec::new()
    }
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        for (ms, token) in [(1000, 0), (1001, 1), (2000, 2), (5000, 3), (6000, 4)] {
            ctx.set_timer(SimDuration::from_millis(ms), token);
        }
    }
    fn on_watch(&mut self, _: usize, _: &WatchEvent, _: &mut Context<'_>) {}
    fn on_timer(&mut self, token: u64, ctx: &mut Context<'_>) {
        let r = match token {
            0 => ctx.create(pod("a")).map(|_| ()),
            1 => {
                ctx.set_control_plane_outage(true);
                Ok(())
            }
            2 => ctx.create(pod("b")).map(|_| ()),
            3 => {
                ctx.set_control_plane_outage(false);
                Ok(())
            }
            _ => ctx.create(pod("c")).map(|_| ()),
        };
        if let Err(e) = r {
            let unavailable = matches!(e, ApiError::ServiceUnavailable);
            self.0
                .borrow_mut()
                .push(format!("write {token} refused, 503: {unavailable}"));
        }
    }
}

struct Observer(Results);

impl Component for Observer {
    fn name(&self) -> String {
        "observer".into()
    }
    fn watches(&self) -> Vec<WatchFilter> {
        vec![WatchFilter::kinds(&[Kind::Pod])]
    }
    fn on_watch(&mut self, _: usize, e: &WatchEvent, ctx: &mut Context<'_>) {
        self.0.borrow_mut().push(format!(
            "{} seen at {}ms",
            e.object.meta().name,
            ctx.now().as_millis()
        ));
    }
}

#[test]
fn an_outage_refuses_writes_and_holds_watch_events_until_it_ends() {
    let log: Results = Rc::new(RefCell::new(Vec::new()));
    let config = RunConfig {
        duration: SimDuration::from_secs(10),
        ..RunConfig::default()
    };
    let mut cluster = Cluster::new(config, Box::new(std::io::sink()), Box::new(std::io::sink()));
    cluster
        .add_component(Box::new(Observer(log.clone())))
        .unwrap();
    cluster
        .add_component(Box::new(Script(log.clone())))
        .unwrap();
    cluster.run().unwrap();
    assert_eq!(
        *log.borrow(),
        vec![
            "write 2 refused, 503: true".to_string(),
            // Pod a was written at 1s; its delivery (due at 1.01s) waited for the end.
            "a seen at 5000ms".to_string(),
            "c seen at 6010ms".to_string(),
        ]
    );
}
