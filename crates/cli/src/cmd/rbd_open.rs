//! Images the subcommands open read-write are closed on every path, errors included: a
//! read-write open watches the header (and may hold the exclusive lock) until it is
//! closed, and a watch left behind makes `rbd rm` answer "has watchers" until the OSD
//! times it out (`osd_client_watch_timeout`, 30 s).

use crate::error::CliError;

/// Runs `body` on `image`, then closes the image whatever `body` returned; `body`'s
/// error comes first, then the close's.
pub(crate) async fn with_image<T>(
    mut image: rbd::Image,
    body: impl AsyncFnOnce(&mut rbd::Image) -> Result<T, CliError>,
) -> Result<T, CliError> {
    let result = body(&mut image).await;
    let closed = image.close().await;
    let value = result?;
    closed?;
    Ok(value)
}

/// Opens image `name` of `pool` read-write and runs `body` on it (see [`with_image`]).
pub(crate) async fn with_image_rw<T>(
    pool: &rbd::Rbd,
    name: &str,
    body: impl AsyncFnOnce(&mut rbd::Image) -> Result<T, CliError>,
) -> Result<T, CliError> {
    let image = pool.open(name, rbd::OpenMode::ReadWrite).await?;
    with_image(image, body).await
}
