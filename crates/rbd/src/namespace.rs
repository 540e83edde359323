//! RBD namespaces of a pool (src/librbd/api/Namespace.cc; cls_rbd `namespace_add`,
//! `namespace_remove`, `namespace_list` on `rbd_namespace` of the default namespace, and
//! `dir_state_set` / `dir_state_assert` on the namespace's `rbd_directory`). Images of
//! a namespace are reached with an [`Rbd`] over an `IoCtx` set to it.

use rados::Errno;
use tracing::{debug, warn};

use crate::cls::{self, Method, decode_reply};
use crate::error::{Error, Result};
use crate::names;
use crate::pool::Rbd;

/// The object listing the namespaces (`RBD_NAMESPACE`).
pub const NAMESPACE_OBJECT: &str = "rbd_namespace";
/// Pool-level objects a namespace may hold, removed with it (Namespace.cc `POOL_OBJECTS`).
const POOL_OBJECTS: [&str; 7] = [
    "rbd_children",
    "rbd_group_directory",
    names::INFO,
    "rbd_mirroring",
    "rbd_task",
    names::TRASH,
    names::DIRECTORY,
];
/// How many names one `namespace_list` call asks for.
const LIST_PAGE: u64 = 1024;

/// `cls::rbd::DirectoryState`: images may be added.
const DIRECTORY_STATE_READY: u8 = 0;
/// Images may not be added (a namespace being removed).
const DIRECTORY_STATE_ADD_DISABLED: u8 = 1;

fn namespace_add(name: &str) -> Result<Method> {
    Method::new("namespace_add", |w| w.put(name))
}

fn namespace_remove(name: &str) -> Result<Method> {
    Method::new("namespace_remove", |w| w.put(name))
}

fn namespace_list(start_after: &str, max: u64) -> Result<Method> {
    Method::new("namespace_list", |w| {
        w.put(start_after);
        w.put_u64(max);
    })
}

fn dir_state_set(state: u8) -> Result<Method> {
    Method::new("dir_state_set", |w| w.put_u8(state))
}

/// `namespace_list`: the names, in order.
pub fn decode_namespace_list(data: &[u8]) -> Result<Vec<String>> {
    decode_reply("namespace_list", data, |r| r.decode())
}

impl Rbd {
    fn default_ns(&self) -> rados::IoCtx {
        self.ioctx().clone().with_namespace("")
    }

    fn in_ns(&self, name: &str) -> rados::IoCtx {
        self.ioctx().clone().with_namespace(name)
    }

    /// Creates namespace `name` in the pool (`rbd_namespace_create`): its entry, its
    /// trash and a ready directory; undone on failure.
    pub async fn namespace_create(&self, name: &str) -> Result<()> {
        if name.is_empty() {
            return Err(Error::InvalidArgument("namespace name must not be empty"));
        }
        let default = self.default_ns();
        match namespace_add(name)?.call(&default, NAMESPACE_OBJECT).await {
            Ok(_) => {}
            Err(e) if e.is(Errno::EEXIST) => return Err(Error::NamespaceExists(name.into())),
            Err(e) => return Err(e),
        }
        let ns = self.in_ns(name);
        let made = async {
            ns.create(names::TRASH, false).await?;
            dir_state_set(DIRECTORY_STATE_READY)?
                .call(&ns, names::DIRECTORY)
                .await
                .map(drop)
        }
        .await;
        if let Err(e) = made {
            warn!(name, error = %e, "namespace creation failed; undoing");
            let _ = ns.remove(names::DIRECTORY).await;
            let _ = ns.remove(names::TRASH).await;
            let _ = namespace_remove(name)?
                .call(&default, NAMESPACE_OBJECT)
                .await;
            return Err(e);
        }
        debug!(name, "namespace created");
        Ok(())
    }

    /// Removes namespace `name` (`rbd_namespace_remove`): refused ([`Error::NamespaceBusy`])
    /// while it holds images or trash entries.
    pub async fn namespace_remove(&self, name: &str) -> Result<()> {
        if name.is_empty() {
            return Err(Error::InvalidArgument("namespace name must not be empty"));
        }
        let ns = self.in_ns(name);
        // no more images, and the directory goes if it is empty (EBUSY: it is not)
        let disable = dir_state_set(DIRECTORY_STATE_ADD_DISABLED)?;
        let r = ns
            .op(names::DIRECTORY)
            .exec(cls::CLASS, disable.name, &disable.input)
            .remove()
            .submit()
            .await;
        match r {
            Ok(_) => {}
            Err(e) if e.is(Errno::EBUSY) => return Err(self.rollback_remove(name).await),
            Err(e) if e.is(Errno::ENOENT) => {}
            Err(e) => return Err(e.into()),
        }
        let trash = cls::trash::trash_list("", 1)?.call(&ns, names::TRASH).await;
        match trash {
            Ok(b) if !cls::trash::decode_trash_list(&b)?.is_empty() => {
                return Err(self.rollback_remove(name).await);
            }
            Ok(_) => {}
            Err(e) if e.is_enoent() => {}
            Err(e) => return Err(e),
        }
        for oid in POOL_OBJECTS {
            match ns.remove(oid).await {
                Ok(()) => {}
                Err(e) if e.is(Errno::ENOENT) => {}
                Err(e) => return Err(e.into()),
            }
        }
        match namespace_remove(name)?
            .call(&self.default_ns(), NAMESPACE_OBJECT)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_enoent() => Err(Error::NamespaceNotFound(name.into())),
            Err(e) => Err(e),
        }
    }

    /// Makes the directory ready again after a refused removal; the error to return.
    async fn rollback_remove(&self, name: &str) -> Error {
        let ns = self.in_ns(name);
        match dir_state_set(DIRECTORY_STATE_READY) {
            Ok(m) => {
                if let Err(e) = m.call(&ns, names::DIRECTORY).await {
                    warn!(name, error = %e, "failed to make the namespace directory ready again");
                }
            }
            Err(e) => return e,
        }
        Error::NamespaceBusy(name.into())
    }

    /// The pool's namespaces, in order (`rbd_namespace_list`).
    pub async fn namespace_list(&self) -> Result<Vec<String>> {
        let default = self.default_ns();
        let mut out = Vec::new();
        let mut after = String::new();
        loop {
            let page = match namespace_list(&after, LIST_PAGE)?
                .call(&default, NAMESPACE_OBJECT)
                .await
            {
                Ok(b) => decode_namespace_list(&b)?,
                Err(e) if e.is_enoent() => return Ok(out),
                Err(e) => return Err(e),
            };
            let full = page.len() as u64 >= LIST_PAGE;
            if let Some(last) = page.last() {
                after.clone_from(last);
            }
            out.extend(page);
            if !full {
                return Ok(out);
            }
        }
    }

    /// Whether namespace `name` exists and is ready (`rbd_namespace_exists`).
    pub async fn namespace_exists(&self, name: &str) -> Result<bool> {
        if name.is_empty() {
            return Err(Error::InvalidArgument("namespace name must not be empty"));
        }
        match cls::rbd::dir_state_assert_ready()?
            .call(&self.in_ns(name), names::DIRECTORY)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_enoent() => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_reply() {
        // `namespace_list` on Pacific with namespaces "a" and "ns2" (a std::list<string>)
        let bytes = [2, 0, 0, 0, 1, 0, 0, 0, b'a', 3, 0, 0, 0, b'n', b's', b'2'];
        assert_eq!(decode_namespace_list(&bytes).unwrap(), vec!["a", "ns2"]);
        for cut in 0..bytes.len() {
            assert!(decode_namespace_list(&bytes[..cut]).is_err());
        }
        assert!(decode_namespace_list(&[0xff, 0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn inputs() {
        assert_eq!(dir_state_set(1).unwrap().input, vec![1]);
        let l = namespace_list("x", 5).unwrap().input;
        assert_eq!(l, [&[1, 0, 0, 0, b'x'][..], &5u64.to_le_bytes()].concat());
    }
}
