//! Embeds the content directories (intents/, dictionaries/, rules/) in the binary, so
//! `madoguchi` answers from any working directory; `--content DIR` still loads a live copy.
use std::{env, fs, path::Path};

fn main() {
    let root = env::var("CARGO_MANIFEST_DIR").unwrap();
    let mut files = Vec::new();
    for dir in ["intents", "dictionaries", "rules"] {
        let d = Path::new(&root).join(dir);
        println!("cargo:rerun-if-changed={}", d.display());
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_file() {
                println!("cargo:rerun-if-changed={}", p.display());
                files.push((format!("{dir}/{}", e.file_name().to_string_lossy()), p));
            }
        }
    }
    files.sort();
    let mut out = String::from("/// Content files compiled into the binary: (relative path, text).\npub static EMBEDDED: &[(&str, &str)] = &[\n");
    for (rel, p) in &files {
        out.push_str(&format!(
            "    ({rel:?}, include_str!({:?})),\n",
            p.display().to_string()
        ));
    }
    out.push_str("];\n");
    fs::write(
        Path::new(&env::var("OUT_DIR").unwrap()).join("embedded.rs"),
        out,
    )
    .unwrap();
}
