//! The config's unit tests: the documented shapes parse; every error is located (file,
//! line, column, section, key); a broken section is set aside alone.

use super::*;

#[test]
fn parses_the_documented_example() {
    let c = Config::parse(
        "t.toml",
        r#"
        [instance.VI_1]
        routes = ["10.1.0.10/32"]
        elastic_ips = ["eipalloc-0123456789abcdef0"]
        interface = "eth1"
        release = true
        [instance.VG_1]
        routes = ["10.1.0.20"]
        "#,
    )
    .unwrap();
    let vi = c.instance("VI_1").unwrap();
    assert_eq!(vi.routes[0].to_string(), "10.1.0.10/32");
    assert_eq!(vi.eni, EniChoice::Interface("eth1".into()));
    assert!(vi.release);
    assert_eq!(c.instance("VG_1").unwrap().eni, EniChoice::Primary);
    let t = Config::parse(
        "t.toml",
        r#"
        [instance.VI_1]
        routes = ["10.1.0.10/32"]
        [[instance.VI_1.sites]]
        region = "us-east-1"
        vpc_id = "vpc-a"
        [[instance.VI_1.sites]]
        region = "us-west-2"
        vpc_id = "vpc-b"
        role_arn = "arn:aws:iam::222222222222:role/ec2-vip"
        external_id = "x"
        "#,
    )
    .unwrap();
    let sites = &t.instance("VI_1").unwrap().sites;
    let h = Config::parse(
        "t.toml",
        "on_event = \"/bin/all\"\n[instance.A]\nroutes = [\"10.1.0.10/32\"]\non_event = \"/bin/a\"\n\
         [instance.B]\nroutes = [\"10.1.0.11/32\"]\n",
    )
    .unwrap();
    assert_eq!(h.on_event.as_deref(), Some("/bin/all"));
    assert_eq!(h.section_hooks.get("A").map(String::as_str), Some("/bin/a"));
    assert!(!h.section_hooks.contains_key("B"));
    assert_eq!(sites.len(), 2);
    assert_eq!(sites[1].role_arn.as_deref(), Some("arn:aws:iam::222222222222:role/ec2-vip"));
    let err = c.instance("VI_9").unwrap_err().to_string();
    assert!(err.contains("[instance.VI_9]"), "{err}");
}

#[test]
fn shipped_examples_parse() {
    let c = Config::parse("ec2-vip.toml", include_str!("../../examples/keepalived/ec2-vip.toml")).unwrap();
    assert_eq!(c.instances.len(), 3);
    assert_eq!(
        c.instance("VI_3").unwrap().private_ips,
        vec!["10.0.2.100".parse::<std::net::Ipv4Addr>().unwrap()]
    );
    let t = include_str!("../../examples/keepalived/transit-gateway/ec2-vip.toml");
    let t = Config::parse("transit-gateway/ec2-vip.toml", t).unwrap();
    assert_eq!(t.instance("VI_1").unwrap().sites.len(), 3);
}

#[test]
fn bad_configs_name_the_problem() {
    let cases = [
        ("[instance.A]\nroutes = [\"10.1.0.10/24\"]", "host bits"),
        ("[instance.A]\nelastic_ips = [\"eni-1\"]", "elastic_ips"),
        ("[instance.A]\nroutes = [\"10.1.0.10/32\"]\nrout = 1", "unknown field"),
        ("[instance.A]\n", "no routes"),
        ("[instance.A]\nroutes = [\"10.1.0.10/32\"]\ninterface = \"eth1\"\neni = \"eni-1\"", "exclusive"),
        ("[instance.A", "t.toml"),
        ("[instance.A]\nroutes = [\"10.1.0.10/32\"]\n[[instance.A.sites]]\nregion = \"r\"\nvpc_id = \"v\"", "VPC id"),
        ("[instance.A]\n[[instance.A.sites]]\nregion = \"r\"\nvpc_id = \"vpc-1\"", "no routes"),
        ("[instance.A]\nroutes = [\"10.1.0.10/32\"]\n[[instance.A.sites]]\nregion = \"r\"\nvpc_id = \"vpc-1\"\nrole_arn = \"x\"", "role ARN"),
        ("[instance.A]\nroutes = [\"10.1.0.10/32\", \"10.1.0.10\"]", "[instance.A] routes[1]: names route 10.1.0.10/32 twice"),
        ("[instance.A]\nroutes = [\"10.1.0.10/32\"]\nroute_tables = [\"x\"]", "not a route table id"),
        ("[instance.A]\nroutes = [\"10.1.0.10/32\"]\nroute_tables = [\"rtb-1\"]\nroute_table_tags = { Name = \"a\" }", "mutually exclusive"),
        ("[instance.A]\nelastic_ips = [\"198.51.100.1\"]\nroute_tables = [\"rtb-1\"]", "need routes"),
        ("[instance.A]\nroutes = [\"10.1.0.10/32\"]\n[instance.B]\nroutes = [\"10.1.0.10/32\"]", "[instance.A] routes[0]: route 10.1.0.10/32 is also in [instance.B]"),
        ("[instance.A]\nelastic_ips = [\"198.51.100.1\"]\n[instance.B]\nelastic_ips = [\"198.51.100.1\"]", "Elastic IP 198.51.100.1 is also in [instance.B]"),
        ("on_event = \" \"\n[instance.A]\nroutes = [\"10.1.0.10/32\"]", "on_event is empty"),
    ];
    for (text, want) in cases {
        let err = first_error(text);
        assert!(err.contains(want), "{text:?}: {err}");
        assert!(err.starts_with("t.toml:"), "{err}");
    }
}

/// The whole file's error, or the first broken section's.
fn first_error(text: &str) -> String {
    match Config::parse("t.toml", text) {
        Err(e) => e.to_string(),
        Ok(c) => c.problems().first().map(|p| p.to_string()).unwrap_or_else(|| panic!("{text:?} parsed")),
    }
}

/// A sound first section, then `second` as `[instance.VI_2]` from line 4 on.
fn with_second(second: &str) -> String {
    format!("# two sections\n[instance.VI_1]\nroutes = [\"10.1.0.10/32\"]\n[instance.VI_2]\n{second}")
}

#[test]
fn errors_in_the_second_section_say_where() {
    let cases = [
        // A wrong type: the value's line and column.
        ("routes = [\"10.1.0.11/32\"]\nrelease = 1\n", "t.toml:6:11: [instance.VI_2] release: invalid type: integer `1`, expected a boolean"),
        // An unknown key: the key's place.
        ("routes = [\"10.1.0.11/32\"]\n  rout = 1\n", "t.toml:6:3: [instance.VI_2] rout: unknown field `rout`"),
        // A bad route value: the item's place, with its index.
        ("routes = [\"10.1.0.11/32\", \"10.1.0.12/24\"]\n", "t.toml:5:27: [instance.VI_2] routes[1]: 10.1.0.12/24 has host bits set"),
        // A bad field of the second site: its key path.
        ("routes = [\"10.1.0.11/32\"]\n[[instance.VI_2.sites]]\nregion = \"r\"\nvpc_id = \"vpc-1\"\n[[instance.VI_2.sites]]\nregion = \"r\"\nvpc_id = \"v\"\n",
         "t.toml:11:10: [instance.VI_2] sites[1].vpc_id: \"v\" is not a VPC id"),
        // A field missing from a site: the site's header.
        ("routes = [\"10.1.0.11/32\"]\n[[instance.VI_2.sites]]\nregion = \"r\"\n", "t.toml:6:1: [instance.VI_2] sites[0]: missing field `vpc_id`"),
        // About the section as a whole: its header.
        ("interface = \"eth1\"\n", "t.toml:4:1: [instance.VI_2]: has no routes"),
        ("elastic_ips = [{ id = \"eipalloc-1\", private_ip = \"x\" }]\n", "t.toml:5:50: [instance.VI_2] elastic_ips[0].private_ip: \"x\" is not a private IPv4"),
    ];
    for (second, want) in cases {
        let c = Config::parse("t.toml", &with_second(second)).unwrap();
        assert_eq!(c.instances.keys().collect::<Vec<_>>(), ["VI_1"], "{second:?}");
        let [p] = c.problems()[..] else { panic!("{second:?}: {:?}", c.broken) };
        assert!(p.to_string().starts_with(want), "{second:?}:\n{p}\n{want}");
        assert_eq!(p.to_string().lines().count(), 1);
        let err = c.instance("VI_2").unwrap_err().to_string();
        assert_eq!(err, p.to_string());
        assert!(c.instance("VI_1").is_ok());
        assert_eq!(c.names(), ["VI_1", "VI_2"]);
    }
}

#[test]
fn a_syntax_error_stops_everything_and_says_where() {
    let err =
        Config::parse("t.toml", &with_second("routes = [\"10.1.0.11/32\"]\nrelease = \"true\n")).unwrap_err();
    let err = err.to_string();
    assert!(err.starts_with("t.toml:6:"), "{err}");
    assert!(err.contains("string"), "{err}");
    let err = Config::parse(
        "t.toml",
        "on_event = \"/bin/x\"\nregoin = \"us-east-1\"\n[instance.A]\nroutes = [\"10.1.0.10/32\"]\n",
    )
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("t.toml:2:1: regoin: unknown field `regoin`"), "{err}");
    let err = Config::parse("t.toml", "on_event = \"/bin/x\"\ninstance = 3\n").unwrap_err().to_string();
    assert!(err.starts_with("t.toml:2:1: instance: must be a table"), "{err}");
    let err = Config::parse("t.toml", "[instance.A]\nroutes = [\"10.1.0.10/32\"]\n[instance.A]\n")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("t.toml:3:"), "{err}");
}

#[test]
fn a_shared_resource_sets_both_sections_aside() {
    let text = "[instance.A]\nroutes = [\"10.1.0.10/32\"]\n[instance.B]\nroutes = [\"10.1.0.11/32\", \"10.1.0.10\"]\n\
                [instance.C]\nroutes = [\"10.1.0.12/32\"]\n";
    let c = Config::parse("t.toml", text).unwrap();
    assert_eq!(c.instances.keys().collect::<Vec<_>>(), ["C"]);
    let lines: Vec<String> = c.problems().iter().map(|p| p.to_string()).collect();
    assert_eq!(
        lines,
        [
            "t.toml:2:11: [instance.A] routes[0]: route 10.1.0.10/32 is also in [instance.B]: one VIP resource belongs to one instance",
            "t.toml:4:27: [instance.B] routes[1]: route 10.1.0.10/32 is also in [instance.A]: one VIP resource belongs to one instance",
        ]
    );
}

#[test]
fn line_and_column_count_characters() {
    assert_eq!(locate::line_col("ab\ncd", 0), (1, 1));
    assert_eq!(locate::line_col("ab\ncd", 3), (2, 1));
    assert_eq!(locate::line_col("é = 1\nx", 4), (1, 4));
    assert_eq!(locate::line_col("ab", 99), (1, 3));
}

#[test]
fn top_level_defaults_parse_and_bad_ones_say_where() {
    let text = "region = \"eu-west-1\"\ntimeout = 12\nsyslog = true\nlog_file = \"/var/log/ec2-vip.log\"\n\
                log_format = \"json\"\n[instance.A]\nroutes = [\"10.1.0.10/32\"]\n";
    let d = Config::parse("t.toml", text).unwrap().defaults;
    let want = Defaults {
        region: Some("eu-west-1".into()),
        timeout: Some(12.0),
        syslog: true,
        log_file: Some("/var/log/ec2-vip.log".into()),
        log_format: Some("json".into()),
        metrics_file: None,
    };
    assert_eq!(d, want);
    assert!(d.logs());
    let t = |v: &str| Config::parse("t.toml", &format!("timeout = {v}\n")).map(|c| c.defaults.timeout);
    assert_eq!(t("2.5").unwrap(), Some(2.5));
    assert_eq!(t("\"7\"").unwrap(), Some(7.0), "the --timeout syntax, as a string");
    assert_eq!(Config::parse("t.toml", "").unwrap().defaults, Defaults::default());
    let cases = [
        ("timeout = 0\n", "t.toml:1:11: timeout: must be between 0.1 and 3600 seconds"),
        ("timeout = \"5m\"\n", "t.toml:1:11: timeout: \"5m\" is not a number of seconds"),
        ("\n\nregion = \"EU west\"\n", "t.toml:3:10: region: \"EU west\" is not a region name"),
        ("log_file = \"x.log\"\n", "t.toml:1:12: log_file: \"x.log\" is not an absolute path"),
        ("log_format = \"xml\"\n", "log_format: \"xml\": expected \"text\" or \"json\""),
        ("syslog = \"yes\"\n", "t.toml:1:10: syslog: invalid type: string \"yes\", expected a boolean"),
    ];
    for (text, want) in cases {
        let err = Config::parse("t.toml", text).unwrap_err().to_string();
        assert!(err.contains(want), "{text:?}: {err}");
    }
}

#[test]
fn a_section_names_its_region_profile_and_role() {
    let text = "[instance.A]\nroutes = [\"10.1.0.10/32\"]\nregion = \"us-west-2\"\nprofile = \"ops\"\n\
                role_arn = \"arn:aws:iam::222222222222:role/vip\"\nexternal_id = \"x\"\n\
                [instance.B]\nroutes = [\"10.1.0.20/32\"]\n";
    let c = Config::parse("t.toml", text).unwrap();
    let a = &c.instance("A").unwrap().access;
    assert_eq!(a.region.as_deref(), Some("us-west-2"));
    assert_eq!(a.profile.as_deref(), Some("ops"));
    assert_eq!(a.role_arn.as_deref(), Some("arn:aws:iam::222222222222:role/vip"));
    assert_eq!(a.external_id.as_deref(), Some("x"));
    assert!(c.instance("B").unwrap().access.is_default());
    let cases = [
        ("region = \"\"", "t.toml:6:10: [instance.VI_2] region: \"\" is not a region name"),
        ("profile = \" \"", "t.toml:6:11: [instance.VI_2] profile: \" \" is not a profile name"),
        ("role_arn = \"ops\"", "t.toml:6:12: [instance.VI_2] role_arn: \"ops\" is not a role ARN"),
        ("external_id = \"x\"", "t.toml:6:15: [instance.VI_2] external_id: external_id needs role_arn"),
    ];
    for (bad, want) in cases {
        let c =
            Config::parse("t.toml", &with_second(&format!("routes = [\"10.1.0.20/32\"]\n{bad}\n"))).unwrap();
        assert!(c.instance("VI_1").is_ok(), "the sound section works");
        let err = c.instance("VI_2").unwrap_err().to_string();
        assert!(err.contains(want), "{bad:?}: {err}");
    }
}

#[test]
fn the_owner_of_some_resources_is_the_section_holding_them_all() {
    let text =
        "[instance.A]\nroutes = [\"10.1.0.10/32\", \"10.1.0.11/32\"]\nelastic_ips = [\"eipalloc-1\"]\n\
                [instance.B]\nroutes = [\"10.1.0.20/32\"]\n";
    let c = Config::parse("t.toml", text).unwrap();
    let res = |routes: &[&str], eips: &[&str]| Resources {
        routes: routes.iter().map(|r| r.parse().unwrap()).collect(),
        eips: eips.iter().map(|e| EipRef::parse(e).unwrap()).collect(),
        eip_pins: Vec::new(),
        private_ips: Vec::new(),
        ipv6_addresses: Vec::new(),
        tables: TableChoice::Holding,
        eni: EniChoice::Primary,
        release: false,
        sites: Vec::new(),
        dns_records: Vec::new(),
        access: Access::default(),
    };
    assert_eq!(c.owner(&res(&["10.1.0.10/32"], &[])), Some("A"));
    assert_eq!(c.owner(&res(&["10.1.0.11/32"], &["eipalloc-1"])), Some("A"));
    assert_eq!(c.owner(&res(&["10.1.0.20/32"], &[])), Some("B"));
    assert_eq!(c.owner(&res(&["10.1.0.10/32", "10.1.0.20/32"], &[])), None, "split over two sections");
    assert_eq!(c.owner(&res(&["10.9.0.1/32"], &[])), None);
    assert_eq!(c.owner(&res(&[], &[])), None);
}
