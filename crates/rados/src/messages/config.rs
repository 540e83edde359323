//! `MConfig` (src/messages/MConfig.h): the configuration the monitors hold for this client,
//! sent after a `config` subscription.

use std::collections::BTreeMap;

use denc::{Reader, Writer};

use super::{MessageCodec, msg_type};

/// `MConfig`: option names and values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MConfig {
    /// The options.
    pub config: BTreeMap<String, String>,
}

impl MessageCodec for MConfig {
    const TYPE: u16 = msg_type::CONFIG;
    const HEAD_VERSION: u16 = 1;
    const NAME: &'static str = "MConfig";

    fn header_for(_: u64) -> (u16, u16) {
        (1, 1)
    }

    fn encode_front(&self, w: &mut Writer, _: u16) {
        w.put(&self.config);
    }

    fn decode_front(r: &mut Reader<'_>, _: u16) -> denc::Result<Self> {
        Ok(MConfig {
            config: r.decode()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::testutil::{round_trip, truncations_fail};

    #[test]
    fn round_trips() {
        let mut m = MConfig::default();
        m.config.insert("rados_mon_op_timeout".into(), "5".into());
        m.config.insert("log_to_stderr".into(), "false".into());
        let msg = round_trip(&m, denc::features::ALL);
        assert_eq!((msg.header.version, msg.header.compat_version), (1, 1));
        truncations_fail::<MConfig>(&msg, usize::MAX);
    }
}
