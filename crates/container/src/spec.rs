//! `crust spec`: the default `config.json`, for a root or rootless
//! container, in runc's layout.

use serde_json::{json, Map, Value};

use crate::DEFAULT_CONFIG;

/// The default config as JSON. `rootless` maps the given host ids to root
/// in a user namespace and drops what needs host privileges, as runc does.
pub fn default_spec(rootless: Option<(u32, u32)>) -> Value {
    let mut spec: Value =
        serde_json::from_str(DEFAULT_CONFIG).expect("the built-in config is valid JSON");
    if let Some((uid, gid)) = rootless {
        make_rootless(&mut spec, uid, gid);
    }
    spec
}

fn make_rootless(spec: &mut Value, uid: u32, gid: u32) {
    for mount in spec["mounts"].as_array_mut().into_iter().flatten() {
        match mount["destination"].as_str() {
            // A devpts gid must be mapped in the user namespace.
            Some("/dev/pts") => {
                if let Some(opts) = mount["options"].as_array_mut() {
                    opts.retain(|o| !o.as_str().is_some_and(|s| s.starts_with("gid=")));
                }
            }
            // sysfs cannot be mounted without owning the network namespace.
            Some("/sys") => {
                *mount = json!({
                    "destination": "/sys",
                    "type": "none",
                    "source": "/sys",
                    "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]
                })
            }
            _ => {}
        }
    }
    let Some(old) = spec["linux"].as_object_mut().map(std::mem::take) else {
        return;
    };
    let mut linux = Map::new();
    linux.insert(
        "uidMappings".into(),
        json!([{"containerID": 0, "hostID": uid, "size": 1}]),
    );
    linux.insert(
        "gidMappings".into(),
        json!([{"containerID": 0, "hostID": gid, "size": 1}]),
    );
    for (k, mut v) in old {
        match k.as_str() {
            // Device cgroup rules need cgroup privileges rootless lacks.
            "resources" => continue,
            "namespaces" => {
                if let Some(list) = v.as_array_mut() {
                    list.retain(|n| n["type"] != "network");
                    list.push(json!({"type": "user"}));
                }
            }
            _ => {}
        }
        linux.insert(k, v);
    }
    spec["linux"] = Value::Object(linux);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_spec_parses_and_validates() {
        let text = serde_json::to_vec(&default_spec(None)).unwrap();
        crate::config::parse(&text).unwrap();
    }

    #[test]
    fn rootless_spec_maps_the_user_and_validates() {
        let spec = default_spec(Some((1000, 1001)));
        assert_eq!(spec["linux"]["uidMappings"][0]["hostID"], 1000);
        assert_eq!(spec["linux"]["gidMappings"][0]["hostID"], 1001);
        let ns: Vec<&str> = spec["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(ns, ["pid", "ipc", "uts", "mount", "user"]);
        assert!(spec["linux"].get("resources").is_none());
        let keys: Vec<&String> = spec["linux"].as_object().unwrap().keys().collect();
        assert_eq!(keys[0], "uidMappings");
        crate::config::parse(&serde_json::to_vec(&spec).unwrap()).unwrap();
    }
}
