//! Creating an image (librbd/image/CreateRequest.cc): validation, the directory entry, the
//! id object, the header, striping; undone step by step if a later step fails.

use tracing::{debug, warn};

use crate::cls::{self, rbd as m};
use crate::error::{Error, Result};
use crate::features;
use crate::names;
use crate::pool::{Rbd, validate_pool};
use crate::striper::Layout;

/// The largest image size accepted: what `rbd --size` can spell (2^63 - 1 bytes); librbd
/// itself has no limit without an object map, but offsets past it overflow its APIs.
pub const MAX_IMAGE_SIZE: u64 = i64::MAX as u64;

/// Options of [`Rbd::create`]. Zero / `None` fields take librbd's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateOptions {
    /// Image size in bytes.
    pub size: u64,
    /// Object size as an order (`1 << order` bytes, 12..=25); default 22 (4 MiB).
    pub order: Option<u8>,
    /// Feature bits; default [`features::DEFAULT`] as librbd's `rbd_default_features`
    /// (layering, exclusive-lock, object-map, fast-diff, deep-flatten). `striping` and
    /// `data-pool` are implied by the other options.
    pub features: Option<u64>,
    /// Stripe unit in bytes (0: the object size).
    pub stripe_unit: u64,
    /// Stripe count (0: 1).
    pub stripe_count: u64,
    /// Pool for the data objects (`None` or the image's pool: the same pool).
    pub data_pool: Option<String>,
}

impl CreateOptions {
    /// Options for an image of `size` bytes.
    pub fn new(size: u64) -> CreateOptions {
        CreateOptions {
            size,
            ..CreateOptions::default()
        }
    }
}

/// Checks a feature set as `validate_features` does.
fn validate_features(f: u64) -> Result<()> {
    if f & !features::ALL != 0 {
        return Err(Error::UnknownFeatures(f & !features::ALL));
    }
    if f & features::INTERNAL != 0 {
        return Err(Error::InvalidArgument(
            "cannot use internally controlled features",
        ));
    }
    if f & features::FAST_DIFF != 0 && f & features::OBJECT_MAP == 0 {
        return Err(Error::InvalidArgument(
            "cannot use fast diff without object map",
        ));
    }
    if f & features::OBJECT_MAP != 0 && f & features::EXCLUSIVE_LOCK == 0 {
        return Err(Error::InvalidArgument(
            "cannot use object map without exclusive lock",
        ));
    }
    if f & features::JOURNALING != 0 && f & features::EXCLUSIVE_LOCK == 0 {
        return Err(Error::InvalidArgument(
            "cannot use journaling without exclusive lock",
        ));
    }
    if f & features::CREATE_UNSUPPORTED != 0 {
        return Err(Error::Unsupported {
            features: f & features::CREATE_UNSUPPORTED,
            what: "creating images with them",
        });
    }
    Ok(())
}

/// What a validated create will write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) size: u64,
    pub(crate) order: u8,
    pub(crate) features: u64,
    /// `Some((unit, count))` when the striping must be recorded.
    pub(crate) striping: Option<(u64, u64)>,
    pub(crate) data_pool: Option<String>,
}

/// Validates `opts` for a pool named `pool_name` (CreateRequest's constructor and `send`).
pub(crate) fn plan(opts: &CreateOptions, pool_name: &str) -> Result<Plan> {
    let order = opts.order.unwrap_or(22);
    if !(12..=25).contains(&order) {
        return Err(Error::BadOrder(order));
    }
    if opts.size > MAX_IMAGE_SIZE {
        return Err(Error::SizeTooLarge {
            size: opts.size,
            max: MAX_IMAGE_SIZE,
        });
    }
    let mut f = opts.features.unwrap_or(features::DEFAULT);
    // librbd ignores the implicitly enabled bits when asked for, then sets them itself
    f &= !(features::STRIPINGV2 | features::DATA_POOL);
    let (su, sc) = (opts.stripe_unit, opts.stripe_count);
    if (su == 0) != (sc == 0) {
        return Err(Error::InvalidArgument(
            "must specify both (or neither) of stripe-unit and stripe-count",
        ));
    }
    let object_size = 1u64 << order;
    if su != 0 {
        Layout::new(object_size, su, sc)?;
    }
    let striping = (su != 0 && (su != object_size || sc != 1)).then_some((su, sc));
    if striping.is_some() {
        f |= features::STRIPINGV2;
    }
    let data_pool = opts
        .data_pool
        .clone()
        .filter(|p| !p.is_empty() && p != pool_name);
    if data_pool.is_some() {
        f |= features::DATA_POOL;
    }
    validate_features(f)?;
    Ok(Plan {
        size: opts.size,
        order,
        features: f,
        striping,
        data_pool,
    })
}

impl Rbd {
    /// Creates image `name` (`rbd_create4`); returns its id. EEXIST
    /// ([`Error::ImageExists`]) if the name is taken.
    pub async fn create(&self, name: &str, opts: &CreateOptions) -> Result<String> {
        if name.is_empty() {
            return Err(Error::InvalidArgument("image name must not be empty"));
        }
        let io = self.ioctx();
        let plan = plan(opts, io.pool_name())?;
        let mut data_pool_id = -1;
        let mut data_io = io.clone();
        if let Some(pool) = &plan.data_pool {
            data_io = io.rados().ioctx(pool).await?.with_namespace(io.namespace());
            data_pool_id = data_io.pool_id();
        }
        validate_pool(&data_io).await?;
        let global_id = io.rados().global_id();
        let id = names::generate_image_id(global_id, rand::random::<u32>());
        let prefix = names::object_prefix(&id, (data_pool_id >= 0).then_some(io.pool_id()));
        if prefix.len() > names::MAX_BLOCK_NAME_PREFIX_LENGTH {
            return Err(Error::InvalidArgument("object prefix too long"));
        }
        debug!(name, id, ?plan, "creating image");

        // 1. the directory entry (refuses a taken name)
        let mut op = io.op(names::DIRECTORY);
        if !io.namespace().is_empty() {
            let assert = m::dir_state_assert_ready()?;
            op = op.exec(cls::CLASS, assert.name, &assert.input);
        }
        let add = m::dir_add_image(name, &id)?;
        match op.exec(cls::CLASS, add.name, &add.input).submit().await {
            Ok(_) => {}
            Err(e) if e.is(rados::Errno::EEXIST) => return Err(Error::ImageExists(name.into())),
            Err(e) => return Err(e.into()),
        }
        let result = self
            .create_objects(name, &id, &prefix, &plan, data_pool_id)
            .await;
        if let Err(e) = result {
            warn!(name, id, error = %e, "create failed; removing the directory entry");
            let rm = m::dir_remove_image(name, &id)?;
            if let Err(e2) = rm.call(io, names::DIRECTORY).await {
                warn!(error = %e2, "could not remove the directory entry");
            }
            return Err(e);
        }
        Ok(id)
    }

    async fn create_objects(
        &self,
        name: &str,
        id: &str,
        prefix: &str,
        plan: &Plan,
        data_pool_id: i64,
    ) -> Result<()> {
        let io = self.ioctx();
        // 2. the id object
        let set_id = m::set_id(id)?;
        let id_obj = names::id_object(name);
        match io
            .op(&id_obj)
            .create(true)
            .exec(cls::CLASS, set_id.name, &set_id.input)
            .submit()
            .await
        {
            Ok(_) => {}
            Err(e) if e.is(rados::Errno::EEXIST) => return Err(Error::ImageExists(name.into())),
            Err(e) => return Err(e.into()),
        }
        // 3. the header, 4. its striping
        let header = names::header_object(id);
        let create = m::create(plan.size, plan.order, plan.features, prefix, data_pool_id)?;
        // the striping is a second op: a class method does not see the omap the same
        // transaction wrote, so it would not find the striping feature yet
        let mut created = io
            .op(&header)
            .create(true)
            .exec(cls::CLASS, create.name, &create.input)
            .submit()
            .await
            .map(|_| ());
        if let (Ok(()), Some((su, sc))) = (&created, plan.striping) {
            let set = m::set_stripe_unit_count(su, sc)?;
            created = set
                .call(io, &header)
                .await
                .map(|_| ())
                .map_err(|e| match e {
                    Error::Rados(r) => r,
                    _ => rados::Error::Protocol("set_stripe_unit_count"),
                });
            if created.is_err() {
                let _ = io.remove(&header).await;
            }
        }
        // 5. the object map, every object NONEXISTENT (CreateRequest::object_map_resize)
        if let (Ok(()), true) = (&created, plan.features & features::OBJECT_MAP != 0) {
            let layout = match plan.striping {
                Some((su, sc)) => Layout::new(1u64 << plan.order, su, sc)?,
                None => Layout::new(1u64 << plan.order, 1u64 << plan.order, 1)?,
            };
            let map_oid = names::object_map_object(id);
            let num_objs = layout.num_objects(plan.size);
            let resize =
                crate::object_map::resize(num_objs, crate::object_map::state::NONEXISTENT)?;
            created = resize
                .call(io, &map_oid)
                .await
                .map(|_| ())
                .map_err(|e| match e {
                    Error::Rados(r) => r,
                    _ => rados::Error::Protocol("object_map_resize"),
                });
            if created.is_err() {
                let _ = io.remove(&map_oid).await;
                let _ = io.remove(&header).await;
            }
        }
        if let Err(e) = created {
            warn!(error = %e, "header creation failed; removing the id object");
            if let Err(e2) = io.remove(&id_obj).await {
                warn!(error = %e2, "could not remove the id object");
            }
            return Err(e.into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans() {
        let p = plan(&CreateOptions::new(1 << 30), "rbd").unwrap();
        assert_eq!(
            (p.order, p.features, p.striping),
            (22, features::DEFAULT, None)
        );
        let mut o = CreateOptions::new(1 << 30);
        o.features = Some(features::LAYERING);
        o.stripe_unit = 8192;
        o.stripe_count = 3;
        o.order = Some(20);
        o.data_pool = Some("data".into());
        let p = plan(&o, "rbd").unwrap();
        assert_eq!(
            p.features,
            features::LAYERING | features::STRIPINGV2 | features::DATA_POOL
        );
        assert_eq!(p.striping, Some((8192, 3)));
        // default striping spelled out: no feature
        o.stripe_unit = 1 << 20;
        o.stripe_count = 1;
        o.data_pool = Some("rbd".into());
        assert_eq!(plan(&o, "rbd").unwrap().features, features::LAYERING);
        o.order = Some(26);
        assert!(matches!(plan(&o, "rbd"), Err(Error::BadOrder(26))));
        o.order = Some(11);
        assert!(matches!(plan(&o, "rbd"), Err(Error::BadOrder(11))));
        let mut o = CreateOptions::new(1);
        o.stripe_unit = 4096;
        assert!(plan(&o, "rbd").is_err());
        o.features = Some(features::EXCLUSIVE_LOCK | features::JOURNALING);
        o.stripe_unit = 0;
        assert!(matches!(plan(&o, "rbd"), Err(Error::Unsupported { .. })));
        o.features = Some(features::DEFAULT);
        assert_eq!(plan(&o, "rbd").unwrap().features, features::DEFAULT);
        o.features = Some(1 << 40);
        assert!(matches!(plan(&o, "rbd"), Err(Error::UnknownFeatures(_))));
        o.features = Some(features::OBJECT_MAP);
        assert!(matches!(plan(&o, "rbd"), Err(Error::InvalidArgument(_))));
        o.features = None;
        o.size = u64::MAX;
        assert!(matches!(plan(&o, "rbd"), Err(Error::SizeTooLarge { .. })));
    }
}
