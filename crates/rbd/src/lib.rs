//! RBD format-2 images over RADOS.
