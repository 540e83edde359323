//! Making clones and undoing them: clone creation (librbd/image/CloneRequest.cc,
//! AttachParentRequest.cc, AttachChildRequest.cc), the children of a snapshot
//! (api/Image.cc `list_children`/`list_descendants`), flatten
//! (operation/FlattenRequest.cc, image/DetachChildRequest.cc,
//! image/DetachParentRequest.cc) and a chain-depth-bounded clone helper.

use rados::{Errno, IoCtx};
use tracing::{debug, warn};

use crate::cls::parent::{self as p, ChildSpec, ParentSpec};
use crate::cls::rbd as m;
use crate::copyup::ObjectOp;
use crate::create::CreateOptions;
use crate::error::{Error, Result};
use crate::features::{self, op};
use crate::image::{Image, OpenMode};
use crate::names;
use crate::pool::Rbd;

/// `CEPH_RELEASE_MIMIC`: the first release whose clients know clone v2.
const RELEASE_MIMIC: u8 = 13;

/// How to make a clone ([`Rbd::clone_image`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloneOptions {
    /// Order, features, striping and data pool of the child. `size` is ignored (a clone
    /// has the size of the parent snapshot); features default to the parent's, order
    /// and striping to the parent's.
    pub create: CreateOptions,
    /// Clone format: 1 (the parent snapshot must be protected; listed in `rbd_children`)
    /// or 2 (listed on the parent snapshot). `None`: the `rbd_default_clone_format`
    /// librbd option from the monitors' config when set to 1 or 2, else 2 when the
    /// cluster requires clients of Mimic or later, else 1 (librbd's "auto").
    pub format: Option<u8>,
}

/// A clone, as [`Image::list_children`] reports it. Ordered as librbd sorts them (pool
/// name, pool id, namespace, image name, id: api/Image.cc `compare`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ChildImage {
    /// Pool name.
    pub pool_name: String,
    /// Pool id.
    pub pool_id: i64,
    /// Namespace.
    pub pool_namespace: String,
    /// Image name (its trash entry's name when it is in the trash; "" when neither the
    /// directory nor the trash knows it).
    pub image_name: String,
    /// Image id.
    pub image_id: String,
    /// Whether it is in the trash (moved by a user, not on its way out).
    pub trash: bool,
}

impl Rbd {
    /// Clones snapshot `snap_name` of image `parent_name` (in `parent`'s pool and
    /// namespace) as image `name` in this pool and namespace (`rbd_clone3`); returns the
    /// child's id.
    pub async fn clone_image(
        &self,
        parent: &Rbd,
        parent_name: &str,
        snap_name: &str,
        name: &str,
        opts: &CloneOptions,
    ) -> Result<String> {
        let pio = parent.ioctx();
        let parent_id = parent.image_id(parent_name).await?;
        let pheader = names::header_object(&parent_id);
        let snap_id = crate::parent::snap_id_by_name(pio, &pheader, snap_name).await?;
        self.clone_of_snap(pio, parent_id, snap_id, name, opts)
            .await
    }

    /// [`Rbd::clone_image`] of snapshot `snap_id` of image `parent_id` in `pio`
    /// (CloneRequest, as a deep copy of a clone makes its copy).
    pub(crate) async fn clone_of_snap(
        &self,
        pio: &IoCtx,
        parent_id: String,
        snap_id: u64,
        name: &str,
        opts: &CloneOptions,
    ) -> Result<String> {
        let pheader = names::header_object(&parent_id);
        let format = match opts.format {
            Some(f @ (1 | 2)) => f,
            Some(_) => return Err(Error::InvalidArgument("clone format must be 1 or 2")),
            None => self.default_clone_format(),
        };
        if format == 1 && pio.namespace() != self.ioctx().namespace() {
            // CloneRequest::validate_options: EXDEV
            return Err(Error::InvalidArgument(
                "clone v1 needs the child in the parent's namespace",
            ));
        }
        // validate_parent: what the parent snapshot says
        let b = m::get_size(snap_id)?.call(pio, &pheader).await?;
        let (porder, psize) = m::decode_size(&b)?;
        let b = m::get_features(snap_id, true)?.call(pio, &pheader).await?;
        let (pfeatures, _) = m::decode_features(&b)?;
        if pfeatures & features::LAYERING == 0 {
            return Err(Error::Unsupported {
                features: features::LAYERING,
                what: "cloning a parent without layering",
            });
        }
        if format == 1 {
            let b = p::get_protection_status(snap_id)?
                .call(pio, &pheader)
                .await?;
            if p::decode_protection_status(&b)? != p::PROTECTION_STATUS_PROTECTED {
                return Err(Error::InvalidArgument("parent snapshot must be protected"));
            }
        }
        let mut create = opts.create.clone();
        create.size = psize;
        let feats = create.features.unwrap_or(pfeatures);
        if feats & features::LAYERING == 0 {
            return Err(Error::Unsupported {
                features: features::LAYERING,
                what: "clones without layering",
            });
        }
        create.features = Some(feats & !features::INTERNAL);
        create.order = Some(create.order.unwrap_or(porder));
        if create.stripe_unit == 0 && pfeatures & features::STRIPINGV2 != 0 {
            let b = m::get_stripe_unit_count()?.call(pio, &pheader).await?;
            let (su, sc) = m::decode_stripe_unit_count(&b)?;
            if create.order == Some(porder) {
                create.stripe_unit = su;
                create.stripe_count = sc;
            }
        }
        let child_id = self.create(name, &create).await?;
        let spec = ParentSpec {
            pool_id: pio.pool_id(),
            pool_namespace: pio.namespace().to_owned(),
            image_id: parent_id,
            snap_id,
        };
        debug!(name, child_id, format, ?spec, "attaching clone");
        if let Err(e) = self.attach(&child_id, &spec, psize, format, pio).await {
            warn!(name, error = %e, "clone attach failed; removing the child");
            if let Err(e2) = self.remove(name).await {
                warn!(error = %e2, "could not remove the half-made clone");
            }
            return Err(e);
        }
        // deep_copy::MetadataCopyRequest: the parent's image metadata goes along
        let meta = crate::pool::metadata_list(pio, &pheader).await?;
        if !meta.is_empty() {
            m::metadata_set(&meta)?
                .call(self.ioctx(), &names::header_object(&child_id))
                .await?;
        }
        Ok(child_id)
    }

    async fn attach(
        &self,
        child_id: &str,
        spec: &ParentSpec,
        overlap: u64,
        format: u8,
        pio: &IoCtx,
    ) -> Result<()> {
        let io = self.ioctx();
        let header = names::header_object(child_id);
        // AttachParentRequest: parent_attach, or set_parent on pre-Nautilus OSDs
        match p::parent_attach(spec, overlap)?.call(io, &header).await {
            Err(e) if e.is(Errno::EOPNOTSUPP) && spec.pool_namespace.is_empty() => {
                p::set_parent(spec, overlap)?.call(io, &header).await?;
            }
            r => {
                r?;
            }
        }
        // AttachChildRequest
        if format == 1 {
            let v1 = pio.clone().with_namespace(io.namespace());
            p::add_child(spec, child_id)?
                .call(&v1, p::CHILDREN_OBJECT)
                .await?;
        } else {
            let child = ChildSpec {
                pool_id: io.pool_id(),
                pool_namespace: io.namespace().to_owned(),
                image_id: child_id.to_owned(),
            };
            p::child_attach(spec.snap_id, &child)?
                .call(pio, &names::header_object(&spec.image_id))
                .await?;
            p::op_features_set(op::CLONE_CHILD, op::CLONE_CHILD)?
                .call(io, &header)
                .await?;
        }
        Ok(())
    }

    fn default_clone_format(&self) -> u8 {
        let rados = self.ioctx().rados();
        match rados
            .mon_config()
            .get("rbd_default_clone_format")
            .map(String::as_str)
        {
            Some("1") => 1,
            Some("2") => 2,
            _ if rados.osdmap().require_min_compat_client >= RELEASE_MIMIC => 2,
            _ => 1,
        }
    }

    /// Clones like [`Rbd::clone_image`] unless the parent's chain of parents is already
    /// `max_depth` deep (the parent counts as 1): then makes a clone and flattens it, so
    /// that no chain grows past `max_depth` (the way OpenStack Cinder's
    /// `rbd_max_clone_depth` bounds read-through costs). Returns the child's id and
    /// whether it was flattened.
    pub async fn clone_bounded(
        &self,
        parent: &Rbd,
        parent_name: &str,
        snap_name: &str,
        name: &str,
        opts: &CloneOptions,
        max_depth: usize,
    ) -> Result<(String, bool)> {
        let pimage = parent.open(parent_name, OpenMode::ReadOnly).await?;
        let mut depth = 1;
        let mut link = pimage.parent.clone();
        while let Some(l) = link {
            depth += 1;
            link = l.source.parent.clone();
        }
        let id = self
            .clone_image(parent, parent_name, snap_name, name, opts)
            .await?;
        if depth < max_depth {
            return Ok((id, false));
        }
        let mut child = self.open(name, OpenMode::ReadWrite).await?;
        // closed on every path: the open watches the header until closed
        let flattened = child.flatten(|_, _| {}).await;
        let closed = child.close().await;
        flattened?;
        closed?;
        Ok((id, true))
    }
}

/// An image's name and whether it is in the trash (api/Image.cc list_descendants and
/// get_parent: the directory first, then the trash, whose entries being removed do not
/// count as trash); an image neither knows has no name.
async fn name_or_trash(pool: &Rbd, id: &str) -> Result<(String, bool)> {
    match pool.image_name(id).await {
        Ok(n) => return Ok((n, false)),
        Err(e) if e.is(Errno::ENOENT) => {}
        Err(e) => return Err(e),
    }
    match pool.trash_get(id).await {
        Ok(t) => {
            let trash = t.source != crate::cls::trash::TrashSource::Removing;
            Ok((t.name, trash))
        }
        Err(e) if e.is(Errno::ENOENT) => Ok((String::new(), false)),
        Err(e) => Err(e),
    }
}

/// A clone's parent by name (`rbd_get_parent`, as `rbd info` shows it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentImage {
    /// Pool name.
    pub pool_name: String,
    /// Namespace.
    pub pool_namespace: String,
    /// Image name (its trash entry's name when it is in the trash).
    pub image_name: String,
    /// Image id.
    pub image_id: String,
    /// Snapshot name.
    pub snap_name: String,
    /// Whether the parent image is in the trash.
    pub trash: bool,
    /// Bytes of this image backed by the parent.
    pub overlap: u64,
}

impl Image {
    /// The parent of a clone, by name (`None` for other images).
    pub async fn parent_info(&self) -> Result<Option<ParentImage>> {
        let Some(pi) = &self.info.parent else {
            return Ok(None);
        };
        let rados = self.io.rados();
        let pool_name = rados
            .pool_list()
            .into_iter()
            .find(|(id, _)| *id == pi.pool_id)
            .map(|(_, n)| n)
            .unwrap_or_default();
        let pio = rados
            .ioctx_by_id(pi.pool_id)
            .await?
            .with_namespace(pi.pool_namespace.clone());
        let (image_name, trash) = name_or_trash(&Rbd::new(pio.clone()), &pi.image_id).await?;
        let b = p::get_snapshot_name(pi.snap_id)?
            .call(&pio, &names::header_object(&pi.image_id))
            .await?;
        Ok(Some(ParentImage {
            pool_name,
            pool_namespace: pi.pool_namespace.clone(),
            image_name,
            image_id: pi.image_id.clone(),
            snap_name: m::decode_string("get_snapshot_name", &b)?,
            trash,
            overlap: pi.overlap,
        }))
    }

    /// The clones of snapshot `snap_name` of this image (`rbd_list_children3`): v2
    /// children from the snapshot, v1 children from `rbd_children` of every pool (in this
    /// image's namespace), sorted.
    pub async fn list_children(&self, snap_name: &str) -> Result<Vec<ChildImage>> {
        let header = self.header_object();
        let snap_id = crate::parent::snap_id_by_name(&self.io, &header, snap_name).await?;
        self.children_of(snap_id).await
    }

    async fn children_of(&self, snap_id: u64) -> Result<Vec<ChildImage>> {
        let rados = self.io.rados();
        let mut specs = Vec::new();
        match p::children_list(snap_id)?
            .call(&self.io, &self.header_object())
            .await
        {
            Ok(b) => specs.extend(p::decode_children(&b)?),
            Err(e) if e.is_enoent() => {}
            Err(e) => return Err(e),
        }
        let parent = ParentSpec {
            pool_id: self.io.pool_id(),
            pool_namespace: self.io.namespace().to_owned(),
            image_id: self.info.id.clone(),
            snap_id,
        };
        for (pool_id, _) in rados.pool_list() {
            let Ok(io) = rados.ioctx_by_id(pool_id).await else {
                continue;
            };
            let io = io.with_namespace(self.io.namespace());
            match p::get_children(&parent)?
                .call(&io, p::CHILDREN_OBJECT)
                .await
            {
                Ok(b) => specs.extend(p::decode_children_v1(&b)?.into_iter().map(|id| ChildSpec {
                    pool_id,
                    pool_namespace: self.io.namespace().to_owned(),
                    image_id: id,
                })),
                Err(e) if e.is_enoent() => {}
                Err(e) => return Err(e),
            }
        }
        let mut out = Vec::with_capacity(specs.len());
        for s in specs {
            let io = rados
                .ioctx_by_id(s.pool_id)
                .await?
                .with_namespace(s.pool_namespace.clone());
            let (image_name, trash) = name_or_trash(&Rbd::new(io.clone()), &s.image_id).await?;
            out.push(ChildImage {
                pool_id: s.pool_id,
                pool_name: io.pool_name().to_owned(),
                pool_namespace: s.pool_namespace,
                image_id: s.image_id,
                image_name,
                trash,
            });
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// The clones of snapshot `snap_name` and, recursively, the clones of every
    /// snapshot of those (`rbd_list_descendants`).
    pub async fn list_descendants(&self, snap_name: &str) -> Result<Vec<ChildImage>> {
        let mut out = self.list_children(snap_name).await?;
        let mut i = 0;
        while let Some(c) = out.get(i).cloned() {
            i += 1;
            if c.image_name.is_empty() || out.len() > 100_000 {
                continue;
            }
            let io = self
                .io
                .rados()
                .ioctx_by_id(c.pool_id)
                .await?
                .with_namespace(c.pool_namespace.clone());
            let child = Rbd::new(io)
                .open_by_id(&c.image_id, OpenMode::ReadOnly)
                .await?;
            for snap in child.info.snap_context.snaps.clone() {
                out.extend(child.children_of(snap.0).await?);
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Copies every object the parent backs into this clone, then detaches it from its
    /// parent (`rbd_flatten_with_progress`); `progress(done, total)` is called per
    /// object. Needs the exclusive lock when the image has the feature.
    pub async fn flatten(&mut self, mut progress: impl FnMut(u64, u64)) -> Result<()> {
        self.check_writable()?;
        self.refresh().await?;
        let Some(info) = self.info.parent.clone() else {
            return Err(Error::InvalidArgument("image has no parent"));
        };
        let access = self.write_access().await?;
        let held = crate::io::held(&access);
        let layout = self.info.layout();
        let overlap = info.overlap.min(self.info.size);
        let total = layout.num_objects(overlap);
        if let Some(writer) = self.clone_writer(held) {
            self.flatten_objects(&writer, held, total, &mut progress)
                .await?;
        }
        self.detach_parent().await?;
        drop(access);
        self.refresh().await?;
        self.notify_header_update().await;
        Ok(())
    }

    /// DetachChildRequest + DetachParentRequest: off the parent's children list, then
    /// the header's parent link.
    async fn detach_parent(&self) -> Result<()> {
        // FlattenRequest::detach_child: snapshots of an image without deep-flatten keep
        // their parent, so the image stays its child until the last one goes
        if self.info.features & features::DEEP_FLATTEN != 0
            || self.info.snap_context.snaps.is_empty()
        {
            self.detach_child().await?;
        }
        let header = self.header_object();
        match p::parent_detach()?.call(&self.io, &header).await {
            Err(e) if e.is(Errno::EOPNOTSUPP) => {
                p::remove_parent()?.call(&self.io, &header).await?;
            }
            r => {
                r?;
            }
        }
        Ok(())
    }

    /// DetachChildRequest: off the parent snapshot's children list (v2 when the
    /// clone-child op feature is set, else v1 `rbd_children`). Nothing for other images.
    pub(crate) async fn detach_child(&self) -> Result<()> {
        let Some(pi) = &self.info.parent else {
            return Ok(());
        };
        let spec = ParentSpec {
            pool_id: pi.pool_id,
            pool_namespace: pi.pool_namespace.clone(),
            image_id: pi.image_id.clone(),
            snap_id: pi.snap_id,
        };
        let rados = self.io.rados();
        match rados.ioctx_by_id(spec.pool_id).await {
            Ok(pio) => {
                let pio = pio.with_namespace(spec.pool_namespace.clone());
                let r = if self.info.op_features & op::CLONE_CHILD != 0 {
                    let child = ChildSpec {
                        pool_id: self.io.pool_id(),
                        pool_namespace: self.io.namespace().to_owned(),
                        image_id: self.info.id.clone(),
                    };
                    let r = p::child_detach(spec.snap_id, &child)?
                        .call(&pio, &names::header_object(&spec.image_id))
                        .await;
                    if r.is_ok() {
                        crate::detach_child::prune_parent(&pio, &spec.image_id, spec.snap_id).await;
                    }
                    r
                } else {
                    p::remove_child(&spec, &self.info.id)?
                        .call(&pio, p::CHILDREN_OBJECT)
                        .await
                };
                match r {
                    Ok(_) => {}
                    Err(e) if e.is_enoent() => {}
                    Err(e) => return Err(e),
                }
            }
            // the parent's pool is gone: nothing to detach from
            Err(e) if e.is(Errno::ENOENT) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }
}

/// Objects one flatten copies at a time (`rbd_concurrent_management_ops`: with 4 MiB
/// objects more in flight only lengthen the OSDs' queues; 32 measured slower than 10).
const FLATTEN_IN_FLIGHT: usize = 10;

/// An object map update in flight during a flatten.
type Marking<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + Send + 'a>>;

impl Image {
    /// FlattenRequest's object loop: copies up objects `0..total` with
    /// [`FLATTEN_IN_FLIGHT`] at a time, skipping those a valid object map says the
    /// clone has. Copied objects are marked EXISTS after their copyup (until then a
    /// reader of the map finds the same bytes in the parent), in batches: one map update
    /// at a time runs alongside the copyups and takes every object copied meanwhile
    /// (librbd updates per object, concurrently; a mark awaited between copyups made
    /// each one wait behind the OSD's queue of copyups).
    async fn flatten_objects(
        &self,
        writer: &crate::copyup::CloneWriter,
        held: Option<&crate::exclusive_lock::Held>,
        total: u64,
        progress: &mut impl FnMut(u64, u64),
    ) -> Result<()> {
        let map_valid = match held {
            Some(h) => h.map_valid().await,
            None => false,
        };
        // read before any mark: a mark holds the map while its update is on the wire
        let mut may_exist = Vec::new();
        for object_no in 0..total {
            may_exist.push(match held {
                Some(h) => h.may_exist(object_no).await,
                None => true,
            });
        }
        let mut set = tokio::task::JoinSet::new();
        let (mut next, mut done) = (0, 0);
        let mut copied: Vec<u64> = Vec::new();
        let mut marking: Option<Marking<'_>> = None;
        loop {
            while set.len() < FLATTEN_IN_FLIGHT && next < total {
                let object_no = next;
                next += 1;
                let may_exist = usize::try_from(object_no)
                    .ok()
                    .and_then(|i| may_exist.get(i).copied())
                    .unwrap_or(true);
                // FlattenRequest: objects a valid map says exist are already the child's
                if map_valid && may_exist {
                    done += 1;
                    progress(done, total);
                    continue;
                }
                let w = writer.clone();
                set.spawn(async move {
                    if !w.covers(object_no) {
                        return Ok((object_no, false));
                    }
                    let wrote = w.run(object_no, ObjectOp::CopyupOnly, may_exist).await?;
                    Ok((object_no, wrote))
                });
            }
            if let (None, Some(h), false) = (&marking, held, copied.is_empty()) {
                let batch = std::mem::take(&mut copied);
                let io = &self.io;
                marking = Some(Box::pin(async move {
                    h.mark(io, &batch, crate::object_map::state::EXISTS, None)
                        .await
                }));
            }
            if set.is_empty() && marking.is_none() {
                return Ok(());
            }
            tokio::select! {
                joined = crate::io::join_one(&mut set), if !set.is_empty() => {
                    if let Some((object_no, wrote)) = joined? {
                        if wrote {
                            copied.push(object_no);
                        }
                        done += 1;
                        progress(done, total);
                    }
                }
                marked = async {
                    match marking.as_mut() {
                        Some(m) => m.await,
                        None => std::future::pending().await,
                    }
                }, if marking.is_some() => {
                    marked?;
                    marking = None;
                }
            }
        }
    }
}
