//! A RADOS client: monitor and OSD sessions, object operations, pools and watch/notify.
