//! Delta sync and the administrator's audit search through the local cloud, with the real
//! binaries: devices that interleave commands and syncs converge to `GET /tasks`; an
//! administrator finds exactly every user's entries, and nobody else may look.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use todo_e2e::{Api, DataDir, eventually, id, start};

/// A device's copy of its user's tasks, built from `GET /tasks/changes` only.
#[derive(Default)]
struct Device {
    tasks: BTreeMap<String, Value>,
    since: Option<String>,
}

impl Device {
    async fn sync(&mut self, api: &Api) {
        loop {
            let path = match &self.since {
                Some(s) => format!("/tasks/changes?limit=4&since={s}"),
                None => "/tasks/changes?limit=4".to_string(),
            };
            let page = api.get(&path).await;
            assert_eq!(page.status, 200, "{}", page.body);
            for change in page.body["changes"].as_array().unwrap() {
                match change["op"].as_str().unwrap() {
                    "upsert" => {
                        self.tasks
                            .insert(id(&change["task"]), change["task"].clone());
                    }
                    _ => {
                        self.tasks.remove(change["id"].as_str().unwrap());
                    }
                }
            }
            self.since = Some(page.body["next_since"].as_str().unwrap().to_string());
            if page.body["has_more"] == false {
                return;
            }
        }
    }
}

async fn listed(api: &Api) -> BTreeMap<String, Value> {
    let mut all = BTreeMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/tasks?limit=100&cursor={c}"),
            None => "/tasks?limit=100".to_string(),
        };
        let page = api.get(&path).await.body;
        for t in page["items"].as_array().unwrap() {
            all.insert(id(t), t.clone());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return all,
        }
    }
}

/// A small seeded generator (xorshift), so a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[tokio::test]
async fn devices_interleaving_commands_and_syncs_converge_to_the_list() {
    let data = DataDir::new("sync-devices");
    let cloud = start(&data).await;
    for seed in [0x5eed_u64, 0xc0ffee, 0x1234_5678] {
        let user = format!("sync-{seed:x}");
        let api = Api::new(&cloud, &user);
        let other = Api::new(&cloud, &format!("{user}-other"));
        let mut rng = Rng(seed);
        let mut devices = [Device::default(), Device::default()];
        let mut ids: Vec<String> = Vec::new();
        for step in 0..30 {
            let pick = |rng: &mut Rng, ids: &[String]| {
                (!ids.is_empty()).then(|| ids[rng.below(ids.len() as u64) as usize].clone())
            };
            match rng.below(8) {
                0 | 1 => ids.push(id(&api.create(json!({"title": format!("s{step}")})).await)),
                2 => {
                    if let Some(t) = pick(&mut rng, &ids) {
                        api.call(
                            "PATCH",
                            &format!("/tasks/{t}"),
                            Some(json!({"title": format!("r{step}")})),
                            None,
                        )
                        .await;
                    }
                }
                3 => {
                    if let Some(t) = pick(&mut rng, &ids) {
                        api.call("POST", &format!("/tasks/{t}/complete"), None, None)
                            .await;
                    }
                }
                4 => {
                    if let Some(t) = pick(&mut rng, &ids) {
                        api.call("POST", &format!("/tasks/{t}/reopen"), None, None)
                            .await;
                    }
                }
                5 => {
                    if let Some(t) = pick(&mut rng, &ids) {
                        api.call("DELETE", &format!("/tasks/{t}"), None, None).await;
                    }
                }
                6 => {
                    other.create(json!({"title": "not yours"})).await;
                }
                _ => devices[rng.below(2) as usize].sync(&api).await,
            }
        }
        let expected = listed(&api).await;
        for (d, device) in devices.iter_mut().enumerate() {
            device.sync(&api).await;
            assert_eq!(
                device.tasks, expected,
                "seed {seed:x}: device {d} converges"
            );
        }
    }
}

#[tokio::test]
async fn an_administrator_finds_every_users_entries_and_nobody_else_may_look() {
    let data = DataDir::new("admin-audit");
    let cloud = start(&data).await;
    let alice = Api::new(&cloud, "alice");
    let bob = Api::new(&cloud, "bob");
    let admin = Api::new(&cloud, "auditor");
    let admin_token = cloud
        .auth
        .token_in_groups("auditor", 1, &["ops".into(), "admin".into()]);
    let a = alice.create(json!({"title": "a"})).await;
    alice
        .call(
            "PATCH",
            &format!("/tasks/{}", id(&a)),
            Some(json!({"title": "a2"})),
            None,
        )
        .await;
    alice
        .call("POST", &format!("/tasks/{}/complete", id(&a)), None, None)
        .await;
    let b = bob.create(json!({"title": "b"})).await;
    bob.call("DELETE", &format!("/tasks/{}", id(&b)), None, None)
        .await;

    let search = |query: String| {
        let admin = admin.clone();
        let token = admin_token.clone();
        async move {
            admin
                .call("GET", &format!("/admin/audit?{query}"), None, Some(&token))
                .await
        }
    };
    // All five entries, once the consumer has audited them; then each filter exactly.
    let all = eventually("five audit entries", || async {
        let page = search("limit=100".into()).await;
        let items = page.body["items"].as_array()?.clone();
        (items.len() == 5).then_some(items)
    })
    .await;
    let ops = |items: &[Value]| {
        items
            .iter()
            .map(|e| e["operation"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(all.iter().filter(|e| e["owner"] == "alice").count(), 3);
    let alices = search("actor=alice".into()).await.body["items"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(
        ops(&alices),
        ["task.created", "task.updated", "task.completed"]
    );
    let deletions = search("operation=task.deleted".into()).await.body["items"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(deletions.len(), 1);
    assert_eq!(deletions[0]["task_id"], id(&b));
    let history = search(format!("task={}", id(&a))).await.body["items"]
        .as_array()
        .unwrap()
        .clone();
    let versions: Vec<_> = history.iter().map(|e| e["version"].clone()).collect();
    assert_eq!(
        versions,
        [json!(1), json!(2), json!(3)],
        "a task's entries in version order"
    );

    // Paged two at a time: the same five, none twice.
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("limit=2&cursor={c}"),
            None => "limit=2".to_string(),
        };
        let page = search(q).await;
        paged.extend(
            page.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["event_id"].clone()),
        );
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let every: Vec<_> = all.iter().map(|e| e["event_id"].clone()).collect();
    assert_eq!(paged, every);

    // Everyone else: 403, whatever they ask.
    for (who, token) in [
        ("a user", cloud.auth.token("alice", 1)),
        (
            "another group",
            cloud
                .auth
                .token_in_groups("mallory", 1, &["administrators".into()]),
        ),
    ] {
        let refused = alice
            .call("GET", "/admin/audit?actor=bob", None, Some(&token))
            .await;
        assert_eq!(refused.status, 403, "{who}: {}", refused.body);
    }

    // A user's export is theirs only, as JSON Lines.
    let export = Api::send(alice.request("GET", "/audit/export")).await;
    assert_eq!(export.status, 200);
    assert_eq!(export.headers["content-type"], "application/jsonl");
    let lines: Vec<Value> = export
        .body
        .as_str()
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        ops(&lines),
        ["task.created", "task.updated", "task.completed"]
    );
}

#[tokio::test]
async fn a_large_export_comes_in_linked_parts_with_every_entry_once() {
    let data = DataDir::new("large-export");
    let cloud = start(&data).await;
    let alice = Api::new(&cloud, "alice");
    // Entries of about 16 KB (a task with 4,000 two-byte characters of notes, before and
    // after): 2 tasks patched 90 times each make about 3 MB, more than one part (a part stops
    // once past 512 KB).
    let notes = |i: usize| format!("{i:04}{}", "é".repeat(3_990));
    let mut ids = Vec::new();
    for t in 0..2 {
        ids.push(id(&alice
            .create(json!({"title": format!("big {t}"), "notes": notes(0)}))
            .await));
    }
    for i in 1..=90 {
        for t in &ids {
            let patched = alice
                .call(
                    "PATCH",
                    &format!("/tasks/{t}"),
                    Some(json!({"notes": notes(i)})),
                    None,
                )
                .await;
            assert_eq!(patched.status, 200);
        }
    }
    let expected = 2 * 91;
    eventually("every change audited", || async {
        let mut n = 0;
        for t in &ids {
            let mut cursor = String::new();
            loop {
                let page = alice
                    .get(&format!("/tasks/{t}/history?limit=100{cursor}"))
                    .await
                    .body;
                n += page["items"].as_array()?.len();
                match page["next_cursor"].as_str() {
                    Some(c) => cursor = format!("&cursor={c}"),
                    None => break,
                }
            }
        }
        (n == expected).then_some(())
    })
    .await;

    let mut lines = Vec::new();
    let mut next = Some("/audit/export".to_string());
    let mut parts = 0;
    while let Some(path) = next.take() {
        let part = Api::send(alice.request("GET", &path)).await;
        assert_eq!(part.status, 200, "part {parts}: {}", part.body);
        let size = part.body.as_str().unwrap().len();
        assert!(size < 4 * 1024 * 1024, "part {parts}: {size} bytes");
        lines.extend(part.body.as_str().unwrap().lines().map(str::to_string));
        next = part.headers.get("link").map(|l| {
            let l = l.to_str().unwrap();
            l[1..l.find('>').unwrap()].to_string()
        });
        parts += 1;
    }
    assert!(parts >= 2, "{parts} part(s)");
    let entries: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut seen: Vec<_> = entries
        .iter()
        .map(|e| e["event_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen.len(), expected, "every entry, none twice");
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), expected);
}
