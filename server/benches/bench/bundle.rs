//! The hydrate bundle as `./x wasm` left it in the site root: the wasm module and its JS
//! glue, raw and gzip -9 (what a browser downloads from the server's precompressed files).

use crate::table::{Figure, Goal};
use std::io::Write;

fn gzip_len(bytes: &[u8]) -> usize {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip").len()
}

pub fn run() -> Vec<Figure> {
    let pkg = crate::support::site_root().join("pkg");
    let (mut raw, mut gzip) = (0usize, 0usize);
    for name in ["layerlab_bg.wasm", "layerlab.js"] {
        let path = pkg.join(name);
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (./x wasm builds it)", path.display()));
        raw += bytes.len();
        gzip += gzip_len(&bytes);
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
