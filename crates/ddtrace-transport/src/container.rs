//! Container id detection from `/proc/self/cgroup`, for `Datadog-Container-ID`.

/// Reads the container id of this process, if it runs in a container.
pub(crate) fn detect() -> Option<String> {
    std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|text| parse_cgroup(&text))
}

/// Finds a container id in cgroup file contents: a 64-hex id (Docker, containerd, CRI-O), a
/// UUID (ECS, some Kubernetes runtimes) or a `<32 hex>-<digits>` task id (Fargate), as the last
/// path component of a line (optionally wrapped as `docker-<id>.scope`).
pub(crate) fn parse_cgroup(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let path = line.splitn(3, ':').nth(2)?;
        let last = path.rsplit('/').next()?;
        let last = last.strip_suffix(".scope").unwrap_or(last);
        let id = last
            .rsplit(['-', ':'])
            .next()
            .filter(|_| !is_uuid(last))
            .unwrap_or(last);
        let candidates = [last, id];
        candidates
            .into_iter()
            .find(|c| is_hex64(c) || is_uuid(c) || is_task_id(c))
            .map(str::to_owned)
    })
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn is_task_id(s: &str) -> bool {
    match s.split_once('-') {
        Some((hex, digits)) => {
            hex.len() == 32
                && hex.bytes().all(|b| b.is_ascii_hexdigit())
                && !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCKER: &str = "3957ea5c5e6e47b4b3a4dcc0b3dbc4a4b7d9a3b7e0b3a9c2e1f4d5c6b7a8f9e0";

    #[test]
    fn finds_ids_in_the_usual_layouts() {
        let v1 = format!("12:memory:/docker/{DOCKER}\n11:cpu:/docker/{DOCKER}\n");
        assert_eq!(parse_cgroup(&v1).as_deref(), Some(DOCKER));
        let systemd = format!("0::/system.slice/docker-{DOCKER}.scope\n");
        assert_eq!(parse_cgroup(&systemd).as_deref(), Some(DOCKER));
        let ecs = "1:name=systemd:/ecs/34dc0b5e626f2c5c4c5170e34b10e765-1234567890\n";
        assert_eq!(
            parse_cgroup(ecs).as_deref(),
            Some("34dc0b5e626f2c5c4c5170e34b10e765-1234567890")
        );
        let k8s = "1:cpu:/kubepods/pod1/a0e5a3b2-6c8f-4b1e-9d2a-1f2e3d4c5b6a\n";
        assert_eq!(
            parse_cgroup(k8s).as_deref(),
            Some("a0e5a3b2-6c8f-4b1e-9d2a-1f2e3d4c5b6a")
        );
    }

    #[test]
    fn hosts_and_garbage_have_none() {
        assert_eq!(parse_cgroup("0::/\n"), None);
        assert_eq!(
            parse_cgroup("0::/user.slice/user-1000.slice/session-2.scope\n"),
            None
        );
        assert_eq!(parse_cgroup("garbage"), None);
        assert_eq!(parse_cgroup(""), None);
    }
}
