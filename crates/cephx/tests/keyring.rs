//! Keyrings as Ceph writes them, edge cases of Ceph's INI grammar, and librados's
//! key/keyfile/keyring resolution.

use std::path::PathBuf;
use std::str::FromStr;

use cephx::{
    CephxError, CryptoKey, KeyOptions, KeyRing, KeyType, expand_metavariables,
    keyring_search_paths, resolve_key,
};
use denc::AuthName;

/// Written by Ceph 16.2.15's ceph-authtool (--create-keyring, --gen-key, --cap), verbatim.
const AUTHTOOL_KEYRING: &str = "[osd.0]
\tkey = AQBSHAFr3U5wIBAABLIhY2CJ7u2yf8x1g7lluA==
[client.admin]
\tkey = AQBSHAFr3RjBHhAAGw5hZpkdFNBgU9ZGVl2L4w==
\tcaps mgr = \"allow *\"
\tcaps mon = \"allow *\"
\tcaps osd = \"allow *\"
[client.rbd-user]
\tkey = AQBSHAFry/O2HxAA+wlx0CsMJNZePuaHOE+DDg==
\tcaps mon = \"profile rbd\"
\tcaps osd = \"profile rbd pool=rbd, profile rbd-read-only pool=images\"
";

fn name(s: &str) -> AuthName {
    s.parse().unwrap()
}

#[test]
fn reads_ceph_authtool_keyrings() {
    let ring = KeyRing::from_str(AUTHTOOL_KEYRING).unwrap();
    assert_eq!(ring.len(), 3);
    let admin = ring.get(&name("client.admin")).unwrap();
    assert_eq!(admin.key.key_type(), KeyType::AES);
    assert_eq!(
        &*admin.key.to_base64(),
        "AQBSHAFr3RjBHhAAGw5hZpkdFNBgU9ZGVl2L4w=="
    );
    assert_eq!(admin.caps["mon"], "allow *");
    let rbd = ring.get(&name("client.rbd-user")).unwrap();
    assert_eq!(
        rbd.caps["osd"],
        "profile rbd pool=rbd, profile rbd-read-only pool=images"
    );
    assert!(ring.key(&name("osd.0")).is_ok());
    assert!(matches!(
        ring.key(&name("client.nobody")),
        Err(CephxError::KeyNotFound(_))
    ));
    // what we print reads back the same
    let again = KeyRing::from_str(&ring.to_text()).unwrap();
    assert_eq!(again, ring);
}

#[test]
fn follows_cephs_ini_rules() {
    let text = "; a comment\n\
        # another\n\
        [global]\n\
        key = ignored-in-global\n\
        \n\
          [client.admin]   # trailing comment\n\
        \tkey=AQBSHAFr3RjBHhAAGw5hZpkdFNBgU9ZGVl2L4w==   ; comment after the key\n\
        caps_mon = 'allow r'\n\
        caps   osd  = \"allow rw \\\"quoted\\\" pool=a;b\"\n\
        auid = 0\n\
        caps mgr = allow \\\n    r\n\
        [client.admin]\n\
        caps mds = allow\n";
    let ring = KeyRing::from_str(text).unwrap();
    assert_eq!(ring.len(), 1);
    let e = ring.get(&name("client.admin")).unwrap();
    assert!(!e.key.is_empty());
    assert_eq!(e.caps["mon"], "allow r");
    assert_eq!(e.caps["osd"], "allow rw \"quoted\" pool=a;b");
    assert_eq!(e.caps["mgr"], "allow     r");
    // a repeated section adds to the first
    assert_eq!(e.caps["mds"], "allow");
}

#[test]
fn reports_bad_keyrings_with_line_numbers() {
    let cases: [(&str, usize); 6] = [
        ("[client.admin]\nkey = notbase64!\n", 2),
        ("[client.admin\nkey = AQ==\n", 1),
        ("[bogus]\n", 1),
        ("[client.admin]\njust words\n", 2),
        ("[client.admin]\nfrobnicate = 1\n", 2),
        ("[client.admin]\n\ncaps mon = \"allow r\n", 3),
    ];
    for (text, line) in cases {
        match KeyRing::from_str(text) {
            Err(CephxError::Keyring { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
            other => panic!("{text:?}: {other:?}"),
        }
    }
}

#[test]
fn reads_aes256k_keys() {
    let key = CryptoKey::new(
        KeyType::AES256K,
        denc::UTime::new(1_760_000_000, 0),
        cephx::Secret::new((100..132).collect()),
    )
    .unwrap();
    let text = format!("[client.k]\n\tkey = {}\n", &*key.to_base64());
    let ring = KeyRing::from_str(&text).unwrap();
    assert_eq!(ring.key(&name("client.k")).unwrap(), &key);
}

#[test]
fn reads_the_old_binary_form() {
    // u8 1, map<EntityName, EntityAuth v3 (auid, key, caps map<string, bl(string)>, pending)>
    let key = CryptoKey::from_base64("AQBSHAFr3RjBHhAAGw5hZpkdFNBgU9ZGVl2L4w==").unwrap();
    let mut w = denc::Writer::new();
    w.put_u8(1);
    w.put_u32(1);
    w.put(&name("client.admin"));
    w.put_u8(3);
    w.put_u64(u64::MAX);
    w.put(&key);
    w.put_u32(1);
    w.put(&"mon".to_string());
    w.put_length_prefixed(&denc::encode_to_vec(&"allow *".to_string()).unwrap());
    w.put(&CryptoKey::default());
    let bytes = w.finish().unwrap();
    let ring = KeyRing::parse(&bytes).unwrap();
    assert_eq!(ring.key(&name("client.admin")).unwrap(), &key);
    assert_eq!(
        ring.get(&name("client.admin")).unwrap().caps["mon"],
        "allow *"
    );
    for cut in 1..bytes.len() {
        assert!(KeyRing::parse(&bytes[..cut]).is_err());
    }
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cephx-test-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn resolves_key_then_keyfile_then_keyring() {
    let dir = temp_dir("resolve");
    let admin = name("client.admin");
    let keyring_path = dir.join("ceph.client.admin.keyring");
    std::fs::write(&keyring_path, AUTHTOOL_KEYRING).unwrap();
    let keyfile = dir.join("admin.key");
    std::fs::write(&keyfile, "AQBSHAFry/O2HxAA+wlx0CsMJNZePuaHOE+DDg==\n").unwrap();
    let list = format!(
        "{}/missing.keyring, {}/$cluster.$name.keyring",
        dir.display(),
        dir.display()
    );

    let from_ring = resolve_key(
        &admin,
        &KeyOptions {
            keyring: Some(&list),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        &*from_ring.to_base64(),
        "AQBSHAFr3RjBHhAAGw5hZpkdFNBgU9ZGVl2L4w=="
    );

    let from_file = resolve_key(
        &admin,
        &KeyOptions {
            keyfile: Some(&keyfile),
            keyring: Some(&list),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        &*from_file.to_base64(),
        "AQBSHAFry/O2HxAA+wlx0CsMJNZePuaHOE+DDg=="
    );

    let inline = resolve_key(
        &admin,
        &KeyOptions {
            key: Some("AQBSHAFr3U5wIBAABLIhY2CJ7u2yf8x1g7lluA=="),
            keyfile: Some(&keyfile),
            keyring: Some(&list),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        &*inline.to_base64(),
        "AQBSHAFr3U5wIBAABLIhY2CJ7u2yf8x1g7lluA=="
    );

    // an empty `key` counts as unset; no keyring file at all is reported with the paths
    let missing = format!("{}/nope.keyring", dir.display());
    match resolve_key(
        &admin,
        &KeyOptions {
            key: Some(""),
            keyring: Some(&missing),
            ..Default::default()
        },
    ) {
        Err(CephxError::NoKeyring { searched }) => {
            assert_eq!(searched, [PathBuf::from(&missing)])
        }
        other => panic!("{other:?}"),
    }
    // the keyring exists but has no key for the name
    assert!(matches!(
        resolve_key(
            &name("client.other"),
            &KeyOptions {
                keyring: Some(&list),
                cluster: Some("ceph"),
                ..Default::default()
            }
        ),
        Err(CephxError::NoKeyring { .. } | CephxError::KeyNotFound(_))
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn expands_the_default_search_path_like_librados() {
    let paths = keyring_search_paths(cephx::DEFAULT_KEYRING_SEARCH, "ceph", &name("client.admin"));
    assert_eq!(
        paths,
        [
            "/etc/ceph/ceph.client.admin.keyring",
            "/etc/ceph/ceph.keyring",
            "/etc/ceph/keyring",
            "/etc/ceph/keyring.bin"
        ]
        .map(PathBuf::from)
    );
    assert_eq!(
        expand_metavariables("/k/${cluster}-$type.$id-$host$", "prod", &name("osd.3")),
        "/k/prod-osd.3-$host$"
    );
}
