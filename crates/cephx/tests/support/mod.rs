//! A scripted monitor and OSD speaking CephX's server side, built from the crate's own
//! structures and ciphers (mirroring src/auth/cephx/CephxServiceHandler.cc and
//! CephxProtocol.cc `cephx_verify_authorizer`), so whole handshakes run in memory.
#![allow(dead_code)]

use std::collections::BTreeMap;

use bytes::Bytes;
use cephx::envelope::{
    decode_decrypt, decode_decrypt_enc_bl, encode_encrypt, encode_encrypt_enc_bl,
};
use cephx::protocol::*;
use cephx::{CryptoKey, KeyType, KeyUsage, Secret};
use denc::{AuthName, Decode, EntityType, Reader, UTime, Writer};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub const EACCES: i32 = 13;

/// What the monitor answers to one auth frame.
#[derive(Debug)]
pub enum MonReply {
    More(Vec<u8>),
    Done {
        global_id: u64,
        con_mode: u32,
        payload: Vec<u8>,
    },
    BadMethod {
        result: i32,
    },
}

pub struct ScriptedMon {
    pub rng: StdRng,
    /// The key the monitor has on record for the client.
    pub client_key: CryptoKey,
    pub client_name: AuthName,
    /// Rotating secrets by service, with their secret ids.
    pub service_secrets: BTreeMap<EntityType, (u64, CryptoKey)>,
    pub validity: UTime,
    pub con_mode: u32,
    pub next_global_id: u64,
    /// Per connection:
    pub server_challenge: u64,
    pub peer_global_id: u64,
    pub reclaim: bool,
    /// The AUTH session keys handed out, newest last.
    pub auth_session_keys: Vec<CryptoKey>,
    pub last_connection_secret: Secret,
    /// Tamper hook: (service, encrypt the blob under this key) etc. are done by tests directly.
    pub now: UTime,
}

pub fn key_of(t: KeyType, rng: &mut StdRng) -> CryptoKey {
    CryptoKey::generate(t, UTime::new(1_700_000_000, 0), rng).unwrap()
}

impl ScriptedMon {
    pub fn new(client_key: CryptoKey, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let t = client_key.key_type();
        let mut service_secrets = BTreeMap::new();
        for (i, s) in [
            EntityType::AUTH,
            EntityType::MON,
            EntityType::OSD,
            EntityType::MGR,
        ]
        .into_iter()
        .enumerate()
        {
            service_secrets.insert(s, (10 + i as u64, key_of(t, &mut rng)));
        }
        ScriptedMon {
            rng,
            client_key,
            client_name: AuthName::client("admin"),
            service_secrets,
            validity: UTime::new(3600, 0),
            con_mode: 2,
            next_global_id: 4100,
            server_challenge: 0,
            peer_global_id: 0,
            reclaim: false,
            auth_session_keys: Vec::new(),
            last_connection_secret: Secret::default(),
            now: UTime::new(1_800_000_000, 0),
        }
    }

    /// AUTH_REQUEST: u8 10, EntityName, le64 global_id -> the challenge.
    pub fn auth_request(&mut self, payload: &[u8]) -> MonReply {
        let mut r = Reader::new(payload);
        assert_eq!(r.u8().unwrap(), 10, "AUTH_MODE_MON");
        let name = AuthName::decode(&mut r).unwrap();
        assert_eq!(name, self.client_name);
        let gid = r.u64().unwrap();
        r.finish().unwrap();
        if gid == 0 {
            self.peer_global_id = self.next_global_id;
            self.next_global_id += 1;
            self.reclaim = false;
        } else {
            self.peer_global_id = gid;
            self.reclaim = true;
        }
        self.server_challenge = self.rng.next_u64() | 1;
        MonReply::More(
            denc::encode_to_vec(&CephXServerChallenge {
                server_challenge: self.server_challenge,
            })
            .unwrap(),
        )
    }

    fn ticket_info(&self, service: EntityType, session_key: &CryptoKey) -> CephXServiceTicketInfo {
        CephXServiceTicketInfo {
            ticket: AuthTicket {
                name: self.client_name.clone(),
                global_id: self.peer_global_id,
                created: self.now,
                expires: self.now,
                caps: AuthCapsInfo {
                    allow_all: service == EntityType::MON,
                    caps: Bytes::from_static(b"allow *"),
                },
                flags: 0,
            },
            session_key: session_key.clone(),
        }
    }

    /// cephx_build_service_ticket_reply: tickets for `services`, the principal part under
    /// `principal`, blobs encrypted under `blob_key` when given.
    fn ticket_reply(
        &mut self,
        w: &mut Writer,
        principal: &CryptoKey,
        tickets: &[(EntityType, CryptoKey)],
        blob_key: Option<&CryptoKey>,
    ) {
        w.put_u8(1);
        w.put_u32(tickets.len() as u32);
        for (service, session_key) in tickets {
            w.put_u32(u32::from(service.0));
            w.put_u8(1);
            let msg_a = CephXServiceTicket {
                session_key: session_key.clone(),
                validity: self.validity,
            };
            let principal_cipher = principal.cipher().unwrap();
            encode_encrypt(
                w,
                &principal_cipher,
                KeyUsage::TICKET_SESSION_KEY,
                &msg_a,
                &mut self.rng,
            )
            .unwrap();
            let (secret_id, service_secret) = self.service_secrets[service].clone();
            let info = self.ticket_info(*service, session_key);
            let blob = CephXTicketBlob {
                secret_id,
                blob: encode_encrypt_enc_bl(
                    &service_secret.cipher().unwrap(),
                    KeyUsage::TICKET_INFO,
                    &info,
                    &mut self.rng,
                )
                .unwrap()
                .into(),
            };
            let blob_bl = denc::encode_to_vec(&blob).unwrap();
            match blob_key {
                Some(k) => {
                    w.put_u8(1);
                    let blob_bl = Bytes::from(blob_bl);
                    encode_encrypt(
                        w,
                        &k.cipher().unwrap(),
                        KeyUsage::TICKET_BLOB,
                        &blob_bl,
                        &mut self.rng,
                    )
                    .unwrap();
                }
                None => {
                    w.put_u8(0);
                    w.put_length_prefixed(&blob_bl);
                }
            }
        }
    }

    /// Decrypts a ticket blob the client presents (cephx_decode_ticket).
    pub fn decode_ticket(
        &self,
        service: EntityType,
        blob: &CephXTicketBlob,
    ) -> Option<CephXServiceTicketInfo> {
        let (secret_id, secret) = &self.service_secrets[&service];
        if blob.blob.is_empty() || blob.secret_id != *secret_id {
            return None;
        }
        decode_decrypt_enc_bl(&secret.cipher().unwrap(), KeyUsage::TICKET_INFO, &blob.blob).ok()
    }

    fn new_session_key(&mut self) -> CryptoKey {
        key_of(self.client_key.key_type(), &mut self.rng)
    }

    /// AUTH_REQUEST_MORE: GET_AUTH_SESSION_KEY.
    pub fn auth_request_more(&mut self, payload: &[u8]) -> MonReply {
        let mut r = Reader::new(payload);
        let header = CephXRequestHeader::decode(&mut r).unwrap();
        assert_eq!(header.request_type, CEPHX_GET_AUTH_SESSION_KEY);
        let req = CephXAuthenticate::decode(&mut r).unwrap();
        r.finish().unwrap();
        match self.authenticate(&req, true) {
            Ok(payload) => MonReply::Done {
                global_id: self.peer_global_id,
                con_mode: self.con_mode,
                payload,
            },
            Err(result) => MonReply::BadMethod { result },
        }
    }

    /// CephxServiceHandler::handle_request for GET_AUTH_SESSION_KEY.
    fn authenticate(&mut self, req: &CephXAuthenticate, msgr2: bool) -> Result<Vec<u8>, i32> {
        assert_eq!(req.struct_v, 3);
        let expected = cephx_calc_client_server_challenge(
            &self.client_key,
            self.server_challenge,
            req.client_challenge,
        )
        .unwrap();
        if expected != req.key {
            return Err(-EACCES);
        }
        // verify_old_ticket
        let mut old_session_key = None;
        if self.reclaim {
            let info = self
                .decode_ticket(EntityType::AUTH, &req.old_ticket)
                .ok_or(-EACCES)?;
            if info.ticket.global_id != self.peer_global_id {
                return Err(-EACCES);
            }
            old_session_key = Some(info.session_key);
        } else if !req.old_ticket.blob.is_empty() {
            return Err(-22);
        }
        let session_key = self.new_session_key();
        self.auth_session_keys.push(session_key.clone());
        let mut w = Writer::new();
        w.put(&CephXResponseHeader {
            request_type: CEPHX_GET_AUTH_SESSION_KEY,
            status: 0,
        });
        let client_key = self.client_key.clone();
        self.ticket_reply(
            &mut w,
            &client_key,
            &[(EntityType::AUTH, session_key.clone())],
            old_session_key.as_ref(),
        );
        if req.other_keys != 0 {
            let mut cbl = Writer::new();
            let len = if msgr2 && self.con_mode == 2 { 64 } else { 0 };
            let mut secret = vec![0u8; len];
            self.rng.fill_bytes(&mut secret);
            let secret = Secret::new(secret);
            self.last_connection_secret = secret.clone();
            if msgr2 {
                encode_encrypt(
                    &mut cbl,
                    &session_key.cipher().unwrap(),
                    KeyUsage::AUTH_CONNECTION_SECRET,
                    &secret,
                    &mut self.rng,
                )
                .unwrap();
            }
            w.put_length_prefixed(&cbl.finish().unwrap());
            let mut services = Vec::new();
            for bit in 0..8 {
                let s = 1u32 << bit;
                if req.other_keys & s != 0 && s != 0x20 {
                    let service = EntityType(s as u8);
                    if self.service_secrets.contains_key(&service) {
                        services.push((service, self.new_session_key()));
                    }
                }
            }
            let mut extra = Writer::new();
            if !services.is_empty() {
                self.ticket_reply(&mut extra, &session_key, &services, None);
            }
            w.put_length_prefixed(&extra.finish().unwrap());
        }
        Ok(w.finish().unwrap())
    }

    /// An MAuth renewal request: returns (result, MAuthReply payload).
    pub fn mauth(&mut self, payload: &[u8]) -> (i32, Vec<u8>) {
        let mut r = Reader::new(payload);
        let header = CephXRequestHeader::decode(&mut r).unwrap();
        match header.request_type {
            CEPHX_GET_AUTH_SESSION_KEY => {
                let req = CephXAuthenticate::decode(&mut r).unwrap();
                self.reclaim = true; // an authenticated session always presents its ticket
                match self.authenticate(&req, false) {
                    Ok(p) => (0, p),
                    Err(e) => (e, Vec::new()),
                }
            }
            CEPHX_GET_PRINCIPAL_SESSION_KEY => {
                let Some(info) = self.verify_authorizer(&mut r, EntityType::AUTH) else {
                    return (-EACCES, Vec::new());
                };
                let req = CephXServiceTicketRequest::decode(&mut r).unwrap();
                r.finish().unwrap();
                let mut services = Vec::new();
                for bit in 0..8 {
                    let s = 1u32 << bit;
                    if req.keys & s != 0 && s != 0x20 {
                        services.push((EntityType(s as u8), self.new_session_key()));
                    }
                }
                let mut w = Writer::new();
                w.put(&CephXResponseHeader {
                    request_type: CEPHX_GET_PRINCIPAL_SESSION_KEY,
                    status: 0,
                });
                self.ticket_reply(&mut w, &info.session_key, &services, None);
                (0, w.finish().unwrap())
            }
            other => panic!("unexpected request {other:#x}"),
        }
    }

    /// cephx_verify_authorizer without challenge (the monitor's use).
    fn verify_authorizer(
        &mut self,
        r: &mut Reader<'_>,
        expect: EntityType,
    ) -> Option<CephXServiceTicketInfo> {
        assert_eq!(r.u8().unwrap(), 1);
        let gid = r.u64().unwrap();
        let service = r.u32().unwrap();
        assert_eq!(service, u32::from(expect.0));
        let blob = CephXTicketBlob::decode(r).unwrap();
        let info = self.decode_ticket(expect, &blob)?;
        if info.ticket.global_id != gid {
            return None;
        }
        let _msg: CephXAuthorize =
            decode_decrypt(&info.session_key.cipher().unwrap(), KeyUsage::AUTHORIZE, r).ok()?;
        Some(info)
    }
}

/// An OSD checking authorizers (cephx_verify_authorizer with a challenge).
pub struct ScriptedOsd {
    pub rng: StdRng,
    pub service_secret: (u64, CryptoKey),
    pub challenge: Option<u64>,
    pub connection_secret_len: usize,
}

pub enum OsdReply {
    More(Vec<u8>),
    Done(Vec<u8>),
    Refused,
}

impl ScriptedOsd {
    pub fn new(mon: &ScriptedMon, seed: u64) -> Self {
        ScriptedOsd {
            rng: StdRng::seed_from_u64(seed),
            service_secret: mon.service_secrets[&EntityType::OSD].clone(),
            challenge: None,
            connection_secret_len: 64,
        }
    }

    pub fn handle(&mut self, payload: &[u8]) -> OsdReply {
        let mut r = Reader::new(payload);
        if r.u8().unwrap() != 1 {
            return OsdReply::Refused;
        }
        let gid = r.u64().unwrap();
        assert_eq!(r.u32().unwrap(), 4);
        let blob = CephXTicketBlob::decode(&mut r).unwrap();
        if blob.secret_id != self.service_secret.0 {
            return OsdReply::Refused;
        }
        let Ok(info) = decode_decrypt_enc_bl::<CephXServiceTicketInfo>(
            &self.service_secret.1.cipher().unwrap(),
            KeyUsage::TICKET_INFO,
            &blob.blob,
        ) else {
            return OsdReply::Refused;
        };
        if info.ticket.global_id != gid {
            return OsdReply::Refused;
        }
        let session = info.session_key.cipher().unwrap();
        let Ok(msg) = decode_decrypt::<CephXAuthorize>(&session, KeyUsage::AUTHORIZE, &mut r)
        else {
            return OsdReply::Refused;
        };
        r.finish().unwrap();
        match self.challenge {
            Some(c) if msg.have_challenge => {
                if msg.server_challenge_plus_one != c.wrapping_add(1) {
                    return OsdReply::Refused;
                }
            }
            _ => {
                let c = self.rng.next_u64();
                self.challenge = Some(c);
                let ct = encode_encrypt_enc_bl(
                    &session,
                    KeyUsage::AUTHORIZE_CHALLENGE,
                    &CephXAuthorizeChallenge {
                        server_challenge: c,
                    },
                    &mut self.rng,
                )
                .unwrap();
                return OsdReply::More(ct);
            }
        }
        let mut secret = vec![0u8; self.connection_secret_len];
        self.rng.fill_bytes(&mut secret);
        let reply = CephXAuthorizeReply {
            nonce_plus_one: msg.nonce.wrapping_add(1),
            connection_secret: Secret::new(secret),
        };
        let mut w = Writer::new();
        encode_encrypt(
            &mut w,
            &session,
            KeyUsage::AUTHORIZE_REPLY,
            &reply,
            &mut self.rng,
        )
        .unwrap();
        OsdReply::Done(w.finish().unwrap())
    }
}
