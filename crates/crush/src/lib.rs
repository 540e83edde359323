//! CRUSH maps: decoding and encoding Ceph's binary CRUSH map, and the placement algorithm
//! (`crush_do_rule`) with exactly Ceph's results.
