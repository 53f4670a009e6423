//! The hydrate bundle as `./x wasm` left it in the site root: the wasm module and its JS
//! glue, raw and gzipped: the `.gz` files `./x wasm` made with `gzip -9`, which the server
//! sends precompressed, so the figure is what a browser downloads and what `./x test` limits.

use crate::table::{Figure, Goal};

pub fn run() -> Vec<Figure> {
    let pkg = crate::support::site_root().join("pkg");
    let (mut raw, mut gzip) = (0usize, 0usize);
    for name in ["layerlab_bg.wasm", "layerlab.js"] {
        let path = pkg.join(name);
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (./x wasm builds it)", path.display()));
        raw += bytes.len();
        let gz = pkg.join(format!("{name}.gz"));
        gzip += std::fs::metadata(&gz)
            .unwrap_or_else(|e| panic!("{}: {e} (./x wasm makes it)", gz.display()))
            .len() as usize;
    }
    let kb = |n: usize| n as f64 / 1000.0;
    // One build is one figure: the size does not vary between runs of the same code.
    vec![
        Figure::new("bundle", "hydrate bundle (wasm + js), raw", " kB").samples([kb(raw)]),
        Figure::new("bundle", "hydrate bundle (wasm + js), gzip -9", " kB")
            .goal(Goal::AtMost(250.0))
            .samples([kb(gzip)]),
    ]
}
