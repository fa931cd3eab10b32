//! The watcher's inbox: coalescing bursts, and MASTER_RX_LOWER_PRI as a reassert.

use super::*;

#[test]
fn bursts_coalesce_to_the_latest_state_in_order() {
    let config = Config::parse(
        "t.toml",
        "[instance.VI_1]\nroutes = [\"10.1.0.10/32\"]\n[instance.VI_2]\nroutes = [\"10.1.0.11/32\"]\n",
    )
    .unwrap();
    let mut inbox = Inbox::new(&config, Path::new("/nonexistent"), false);
    let states = HashMap::new();
    for l in [
        "INSTANCE \"VI_1\" MASTER 150",
        "INSTANCE \"VI_2\" BACKUP 100",
        "garbage",
        "INSTANCE \"VI_9\" MASTER 150",
        "INSTANCE \"VI_1\" BACKUP 150",
        "INSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 150",
    ] {
        absorb(l, &mut inbox, &states);
    }
    let expected: Vec<(String, Role)> = vec![("VI_2".into(), Role::Backup), ("VI_1".into(), Role::Backup)];
    assert_eq!(inbox.pending, expected);
    assert!(inbox.reassert.is_empty(), "no reassert while not MASTER");
}

#[test]
fn a_lower_priority_master_is_a_reassert_not_a_transition() {
    let config = Config::parse("t.toml", "[instance.VI_1]\nroutes = [\"10.1.0.10/32\"]\n").unwrap();
    let mut inbox = Inbox::new(&config, Path::new("/nonexistent"), false);
    let states = HashMap::from([("VI_1".to_string(), Role::Master)]);
    // keepalived 2.2.7 writes this on every lower-priority advert a MASTER receives.
    for _ in 0..3 {
        assert_eq!(absorb("INSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 150", &mut inbox, &states), None);
    }
    assert!(inbox.pending.is_empty(), "no MASTER transition (it would record a new MASTER stamp)");
    assert_eq!(inbox.take_reasserts(&states), vec!["VI_1".to_string()]);
    assert!(inbox.reassert.is_empty());
    absorb("INSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 150", &mut inbox, &states);
    absorb("INSTANCE \"VI_1\" BACKUP 100", &mut inbox, &states);
    assert!(inbox.reassert.is_empty(), "a transition replaces a waiting reassert");
}
