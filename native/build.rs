//! Build script: compiles the PEP 523 entry trap (`interposer/_trap.c`, a cffi API-mode module)
//! into this crate when the target interpreter is CPython 3.11.
//!
//! Steps: ask the target Python (`PYO3_PYTHON`, set by maturin; else `python3`) for its version
//! and include directory, let `interposer/trap_build.py --emit` generate the cffi C source, and
//! compile it with the `cc` crate (`Py_BUILD_CORE`, `_CFFI_NO_LIMITED_API`). On success the
//! `stratum_trap` cfg is set and `src/lib.rs` initialises the module. On any failure the crate
//! still builds without the trap; the reason is printed as a cargo warning and compiled in as
//! `STRATUM_TRAP_ERROR` (shown by `stratum._native.build_info()`).
//! `STRATUM_NO_TRAP=1` skips the trap on purpose.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const QUERY: &str = "import sys, sysconfig, platform; \
print(sys.implementation.name); \
print('%d.%d' % sys.version_info[:2]); \
print(platform.python_version()); \
print(sysconfig.get_paths()['include'])";

struct PyInfo {
    implementation: String,
    minor: String,
    full: String,
    include: PathBuf,
}

fn python_exe() -> String {
    for var in ["PYO3_PYTHON", "PYTHON_SYS_EXECUTABLE"] {
        if let Ok(v) = env::var(var) {
            if !v.is_empty() {
                return v;
            }
        }
    }
    "python3".to_string()
}

fn query_python(python: &str) -> Result<PyInfo, String> {
    let out = Command::new(python)
        .args(["-c", QUERY])
        .output()
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{python} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    if lines.len() < 4 {
        return Err(format!("unexpected output from {python}: {text:?}"));
    }
    Ok(PyInfo {
        implementation: lines[0].to_string(),
        minor: lines[1].to_string(),
        full: lines[2].to_string(),
        include: PathBuf::from(lines[3]),
    })
}

fn build_trap(python: &str, info: &PyInfo, manifest_dir: &Path, out_dir: &Path) -> Result<(), String> {
    if env::var("STRATUM_NO_TRAP").map(|v| v == "1").unwrap_or(false) {
        return Err("disabled by STRATUM_NO_TRAP=1 at build time".into());
    }
    if info.implementation != "cpython" {
        return Err(format!("the entry trap needs CPython, not {}", info.implementation));
    }
    if info.minor != "3.11" {
        return Err(format!(
            "the entry trap supports CPython 3.11 only (built for {})",
            info.full
        ));
    }
    let interposer = manifest_dir.join("..").join("interposer");
    let builder = interposer.join("trap_build.py");
    let source = interposer.join("_trap.c");
    if !builder.is_file() || !source.is_file() {
        return Err(format!("trap sources not found in {}", interposer.display()));
    }
    if !info.include.join("internal").join("pycore_frame.h").is_file() {
        return Err(format!(
            "CPython internal headers not found under {}",
            info.include.display()
        ));
    }
    let emitted = out_dir.join("stratum_trap_cffi.c");
    let out = Command::new(python)
        .arg(&builder)
        .arg("--emit")
        .arg(&emitted)
        .output()
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.trim().lines().last().unwrap_or("").to_string();
        return Err(format!("generating the cffi source failed: {last}"));
    }
    cc::Build::new()
        .file(&emitted)
        .include(&info.include)
        .define("Py_BUILD_CORE", None)
        .define("_CFFI_NO_LIMITED_API", None)
        .warnings(false)
        .cargo_warnings(false)
        .opt_level(2)
        .try_compile("stratum_trap")
        .map_err(|e| format!("compiling the trap failed: {e}"))?;
    Ok(())
}

fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../interposer/_trap.c");
    println!("cargo:rerun-if-changed=../interposer/trap_build.py");
    for var in ["PYO3_PYTHON", "PYTHON_SYS_EXECUTABLE", "STRATUM_NO_TRAP"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo::rustc-check-cfg=cfg(stratum_trap)");

    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    let python = python_exe();

    let result = match query_python(&python) {
        Ok(info) => {
            println!("cargo:rustc-env=STRATUM_BUILD_PYTHON={}", one_line(&info.full));
            build_trap(&python, &info, &manifest_dir, &out_dir)
        }
        Err(e) => {
            println!("cargo:rustc-env=STRATUM_BUILD_PYTHON=unknown");
            Err(e)
        }
    };
    match result {
        Ok(()) => {
            println!("cargo:rustc-cfg=stratum_trap");
            println!("cargo:rustc-env=STRATUM_TRAP_ERROR=");
        }
        Err(reason) => {
            let reason = one_line(&reason);
            println!("cargo:warning=stratum: building without the PEP 523 trap: {reason}");
            println!("cargo:rustc-env=STRATUM_TRAP_ERROR={reason}");
        }
    }
}
