//! CephX authentication, sans-IO: keyrings, the ticket crypto, the monitor handshake,
//! service tickets and authorizers.
