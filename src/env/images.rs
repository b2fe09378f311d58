//! The images a run needs: built from their contexts when stale, and
//! checked to exist before any pod is made.

use super::{Env, Log};
use crate::error::{Error, Result};
use crate::podman;
use std::collections::BTreeMap;

impl Env {
    /// Builds missing local images, then checks every image a member needs
    /// exists, so a bad image fails before any pod is made.
    pub fn prepare_images(&self, log: Log) -> Result<()> {
        const CONTEXT_LABEL: &str = "podproof.dev/context-sha256";
        for app in &self.apps {
            for img in &app.images {
                // The image is rebuilt when its context changed since it was built, so
                // the record's context digest always describes the image the test ran.
                let sha = crate::digest::digest_path(&img.context).map_err(|e| {
                    Error::bad_input(
                        format!("cannot read the build context {}", crate::source::display(&img.context)),
                        vec![e.to_string()],
                    )
                })?;
                // An image that podproof built carries its context's digest: a different
                // one means the context changed, so it is built again. An image without
                // the label was made elsewhere (`make setup`, the user) and is used as it
                // is, as before; the record still names the image ID the test ran.
                let stale = match podman::image_label(&img.tag, CONTEXT_LABEL)? {
                    Some(built_from) => built_from != sha,
                    None => !podman::image_exists(&img.tag)?,
                };
                if stale {
                    log(&format!("building image {} from {}", img.tag, crate::source::display(&img.context)));
                    let mut labels = BTreeMap::new();
                    labels.insert("podproof.dev/built".to_string(), "true".to_string());
                    labels.insert(CONTEXT_LABEL.to_string(), sha);
                    podman::build(&img.tag, &img.context, &labels)
                        .map_err(|e| Error::from(e).context(format!("cannot build image {}", img.tag)))?;
                }
            }
        }
        Ok(())
    }

    /// Fails with a clear message naming every image that is not available.
    /// `up` checks before starting; tests check only when a play fails, since
    /// on the happy path each check is a podman call that parallel tests contend for.
    pub fn check_images(&self) -> Result<()> {
        let mut missing = Vec::new();
        for app in &self.apps {
            for role in &app.roles {
                let spec = role.template.spec.clone().unwrap_or_default();
                for c in spec.init_containers.iter().flatten().chain(spec.containers.iter()) {
                    let image = c.image.clone().unwrap_or_default();
                    if image.is_empty() {
                        missing.push(format!("container `{}` of `{}` has no image", c.name, role.name));
                    } else if !missing.iter().any(|m: &String| m.contains(&format!("`{image}`")))
                        && !podman::image_exists(&image)?
                    {
                        missing.push(format!(
                            "image `{image}` (container `{}` of {}/{}) is not available locally",
                            c.name, app.name, role.name
                        ));
                    }
                }
            }
        }
        if !missing.is_empty() {
            let mut e = Error::runtime("missing images: no registry is reachable, so images must be built locally");
            for m in missing {
                e = e.because(m);
            }
            return Err(
                e.because("build them with `podman build`, or list them under `images:` (Test) / `build:` (App)")
            );
        }
        Ok(())
    }
}
