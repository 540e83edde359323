//! Ceph OSD maps: full maps and incrementals of every release, and the placement pipeline
//! from an object name to its PG and OSDs.
