//! A seccomp filter for sandboxed code: refuses `socket(AF_UNIX, …)` and
//! `io_uring_setup` with EACCES, and every system call of a foreign ABI
//! (x32, 32-bit). Read-only bind mounts do not stop `connect()` on a Unix
//! socket file (docker.sock, an ssh-agent, D-Bus), and the network namespace
//! only hides abstract sockets; without an AF_UNIX socket there is nothing
//! to connect with. io_uring could open sockets without the `socket` call.
//! `socketpair` stays allowed: a connected pair reaches nothing outside.
//! The filter is installed between fork and exec (with no_new_privs, so no
//! privilege is needed) and is inherited by everything the check starts.

use std::io;

/// The filter's verdict for refused calls: fail with EACCES.
const DENY: u32 = libc::SECCOMP_RET_ERRNO | libc::EACCES as u32;

#[cfg(target_arch = "x86_64")]
const NATIVE_ARCH: u32 = 0xC000_003E; // AUDIT_ARCH_X86_64
#[cfg(target_arch = "aarch64")]
const NATIVE_ARCH: u32 = 0xC000_00B7; // AUDIT_ARCH_AARCH64

/// x32 system calls are numbered from this bit on x86_64.
const X32_BIT: u32 = 0x4000_0000;

/// Offsets in `struct seccomp_data`: nr, arch, args[0] (low word, little endian).
const NR: u32 = 0;
const ARCH: u32 = 4;
const ARG0: u32 = 16;

fn load(offset: u32) -> libc::sock_filter {
    statement((libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16, offset)
}

fn ret(verdict: u32) -> libc::sock_filter {
    statement(libc::BPF_RET as u16, verdict)
}

fn statement(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

/// Jump `jt` instructions ahead when the accumulator `op` k, else `jf`.
fn jump(op: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: (libc::BPF_JMP | op | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    }
}

/// The program, built before the fork (the child only installs it).
pub(crate) fn program() -> Vec<libc::sock_filter> {
    vec![
        load(ARCH),
        jump(libc::BPF_JEQ, NATIVE_ARCH, 1, 0),
        ret(DENY),
        load(NR),
        jump(libc::BPF_JGE, X32_BIT, 0, 1),
        ret(DENY),
        jump(libc::BPF_JEQ, libc::SYS_io_uring_setup as u32, 0, 1),
        ret(DENY),
        jump(libc::BPF_JEQ, libc::SYS_socket as u32, 0, 3),
        load(ARG0),
        jump(libc::BPF_JEQ, libc::AF_UNIX as u32, 0, 1),
        ret(DENY),
        ret(libc::SECCOMP_RET_ALLOW),
    ]
}

/// Installs `program` on the calling thread. Async-signal-safe (two prctl
/// calls on memory allocated before the fork).
pub(crate) fn install(program: &[libc::sock_filter]) -> io::Result<()> {
    let fprog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: prctl with PR_SET_NO_NEW_PRIVS takes plain integers;
    // PR_SET_SECCOMP reads `fprog`, which points at `program`, valid for
    // the duration of the call.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &fprog as *const libc::sock_fprog,
        ) != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_jump_lands_inside_the_program() {
        let program = program();
        for (at, instruction) in program.iter().enumerate() {
            if instruction.code & 0x07 == libc::BPF_JMP as u16 {
                let far = at + 1 + usize::from(instruction.jt.max(instruction.jf));
                assert!(far < program.len(), "instruction {at} jumps out");
            }
        }
        assert_eq!(program.last().map(|i| i.k), Some(libc::SECCOMP_RET_ALLOW));
    }
}
