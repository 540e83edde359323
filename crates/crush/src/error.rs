//! The crate's error type.

/// Why a CRUSH computation could not produce Ceph's answer.
///
/// Ceph's C mapper trusts the map: where it would read out of bounds, loop forever or trip an
/// assertion, this crate stops with one of these errors instead of guessing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CrushError {
    /// The binary map could not be decoded.
    #[error("decoding the CRUSH map: {0}")]
    Decode(#[from] denc::DecodeError),
    /// No rule with this id exists (Ceph maps such a rule to no OSDs at all).
    #[error("CRUSH rule {0} does not exist")]
    NoSuchRule(i32),
    /// An item refers to a bucket the map does not have.
    #[error("CRUSH item {0} refers to a bucket that does not exist")]
    MissingBucket(i32),
    /// A descent visited more buckets than the map holds: the bucket graph has a cycle.
    #[error("the CRUSH hierarchy has a cycle through bucket {0}")]
    Cycle(i32),
    /// A bucket's own data is inconsistent (a tree walk leaving its node array, say).
    #[error("CRUSH bucket {bucket} is malformed: {what}")]
    MalformedBucket {
        /// The bucket's id.
        bucket: i32,
        /// What is wrong.
        what: &'static str,
    },
    /// A rule is malformed in a way Ceph's mapper does not survive (it would crash or loop).
    #[error("CRUSH rule {rule} is malformed: {what}")]
    MalformedRule {
        /// The rule's id.
        rule: i32,
        /// What is wrong.
        what: &'static str,
    },
    /// A retry counter overflowed: the map's retry settings let a choice retry forever
    /// (Ceph would).
    #[error("CRUSH retry counter overflowed: the rule would retry forever")]
    RetryOverflow,
    /// The map claims more devices than a weight vector is built for.
    #[error("the map claims {0} devices, too many to test")]
    TooManyDevices(i32),
    /// The requested result size is larger than this implementation allows.
    #[error("result size {0} is too large")]
    ResultTooLarge(usize),
}
