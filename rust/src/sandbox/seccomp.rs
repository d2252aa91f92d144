//! A seccomp filter for every process the sandbox starts (fork servers and fresh interpreters;
//! test cases inherit it). System calls a test program has no use for, and that widen the
//! kernel's attack surface, fail with `EPERM`: tracing and reading other processes' memory,
//! mounts and namespaces (including `clone` with namespace flags), eBPF, perf events,
//! userfaultfd, io_uring, kernel keyrings, module loading, kexec, reboot, swap, clock and host
//! name changes, file handles, stealing descriptors with `pidfd_getfd`. `clone3` answers
//! `ENOSYS`, because its flags cannot be inspected, so libc falls back to `clone`.
//!
//! The filter is a plain classic-BPF program built once, by the probe; installing it issues two
//! syscalls and allocates nothing, so it is safe between fork and exec.

use std::io;
use std::sync::OnceLock;

#[repr(C)]
#[derive(Clone, Copy)]
struct Instruction {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

#[repr(C)]
struct Program {
    len: libc::c_ushort,
    filter: *const Instruction,
}

const LD_W_ABS: u16 = 0x20; // BPF_LD (0) | BPF_W (0) | BPF_ABS
const JEQ_K: u16 = 0x05 | 0x10; // BPF_JMP | BPF_JEQ | BPF_K
const JGE_K: u16 = 0x05 | 0x30; // BPF_JMP | BPF_JGE | BPF_K
const JSET_K: u16 = 0x05 | 0x40; // BPF_JMP | BPF_JSET | BPF_K (jumps have class 0x05)
const RET_K: u16 = 0x06; // BPF_RET | BPF_K

const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const RET_ALLOW: u32 = 0x7fff_0000;

// Offsets in `struct seccomp_data`: nr, arch, instruction pointer, then six 64-bit arguments
// (the low half of an argument comes first on these little-endian machines).
const NR: u32 = 0;
const ARCH: u32 = 4;
const ARG0_LOW: u32 = 16;

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E; // AUDIT_ARCH_X86_64
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7; // AUDIT_ARCH_AARCH64

/// System calls that fail with `EPERM`.
const DENIED: &[libc::c_long] = &[
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_process_madvise,
    libc::SYS_pidfd_getfd,
    libc::SYS_kcmp,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_move_mount,
    libc::SYS_open_tree,
    libc::SYS_fsopen,
    libc::SYS_fsconfig,
    libc::SYS_fsmount,
    libc::SYS_fspick,
    libc::SYS_mount_setattr,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_userfaultfd,
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_reboot,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_acct,
    libc::SYS_quotactl,
    libc::SYS_syslog,
    libc::SYS_settimeofday,
    libc::SYS_clock_settime,
    libc::SYS_clock_adjtime,
    libc::SYS_adjtimex,
    libc::SYS_sethostname,
    libc::SYS_setdomainname,
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    libc::SYS_lookup_dcookie,
    libc::SYS_fanotify_init,
    libc::SYS_vhangup,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_iopl,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_ioperm,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_modify_ldt,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_uselib,
];

/// `clone` flags that create namespaces.
const NAMESPACE_FLAGS: u32 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWCGROUP) as u32;

/// The filter program.
fn program() -> &'static [Instruction] {
    static PROGRAM: OnceLock<Vec<Instruction>> = OnceLock::new();
    PROGRAM.get_or_init(build)
}

/// Where a jump goes: the next instruction, a place in the program, or a shared return.
#[derive(Clone, Copy)]
enum To {
    Next,
    Label(usize),
    Allow,
    Deny,
    NoSys,
}

/// The program before its jumps are resolved: instructions and the positions of labels.
#[derive(Default)]
struct Assembly {
    code: Vec<(u16, To, To, u32)>,
    labels: Vec<usize>,
}

impl Assembly {
    fn push(&mut self, code: u16, jt: To, jf: To, k: u32) {
        self.code.push((code, jt, jf, k));
    }

    fn new_label(&mut self) -> usize {
        self.labels.push(usize::MAX);
        self.labels.len() - 1
    }

    fn place(&mut self, label: usize) {
        self.labels[label] = self.code.len();
    }

    /// A binary search over the sorted denied numbers in the accumulator: about log2(n)
    /// comparisons for any system call, instead of one per denied call.
    fn search(&mut self, nrs: &[u32]) {
        if nrs.len() <= 3 {
            for &nr in nrs {
                self.push(JEQ_K, To::Deny, To::Next, nr);
            }
            self.push(RET_K, To::Next, To::Next, RET_ALLOW);
            return;
        }
        let mid = nrs.len() / 2;
        let upper = self.new_label();
        self.push(JGE_K, To::Label(upper), To::Next, nrs[mid]);
        self.search(&nrs[..mid]);
        self.place(upper);
        self.search(&nrs[mid..]);
    }

    /// The final program: the code, then the three shared returns.
    fn finish(self) -> Vec<Instruction> {
        let allow = self.code.len();
        let resolve = |to: To, at: usize| -> u8 {
            let dest = match to {
                To::Next => at + 1,
                To::Label(l) => self.labels[l],
                To::Allow => allow,
                To::Deny => allow + 1,
                To::NoSys => allow + 2,
            };
            u8::try_from(dest - at - 1).expect("seccomp jump within 255 instructions")
        };
        let mut out: Vec<Instruction> = self
            .code
            .iter()
            .enumerate()
            .map(|(at, &(code, jt, jf, k))| {
                let jumps = code & 0x07 == 0x05;
                Instruction {
                    code,
                    jt: if jumps { resolve(jt, at) } else { 0 },
                    jf: if jumps { resolve(jf, at) } else { 0 },
                    k,
                }
            })
            .collect();
        for k in [
            RET_ALLOW,
            RET_ERRNO | libc::EPERM as u32,
            RET_ERRNO | libc::ENOSYS as u32,
        ] {
            out.push(Instruction {
                code: RET_K,
                jt: 0,
                jf: 0,
                k,
            });
        }
        out
    }
}

fn build() -> Vec<Instruction> {
    let mut asm = Assembly::default();
    asm.push(LD_W_ABS, To::Next, To::Next, ARCH);
    // A foreign architecture's syscall numbers mean something else: end the process.
    let native = asm.new_label();
    asm.push(JEQ_K, To::Label(native), To::Next, AUDIT_ARCH);
    asm.push(RET_K, To::Next, To::Next, RET_KILL_PROCESS);
    asm.place(native);
    asm.push(LD_W_ABS, To::Next, To::Next, NR);
    #[cfg(target_arch = "x86_64")]
    asm.push(JGE_K, To::Deny, To::Next, 0x4000_0000); // the x32 ABI
    asm.push(JEQ_K, To::NoSys, To::Next, libc::SYS_clone3 as u32);
    let other = asm.new_label();
    asm.push(JEQ_K, To::Next, To::Label(other), libc::SYS_clone as u32);
    asm.push(LD_W_ABS, To::Next, To::Next, ARG0_LOW);
    asm.push(JSET_K, To::Deny, To::Allow, NAMESPACE_FLAGS);
    asm.place(other);
    let mut denied: Vec<u32> = DENIED.iter().map(|&nr| nr as u32).collect();
    denied.sort_unstable();
    denied.dedup();
    asm.search(&denied);
    asm.finish()
}

/// Installs the filter in the calling process (it is inherited by children and kept across
/// `exec`). Sets no-new-privileges first, as the kernel requires of unprivileged callers.
///
/// # Safety
/// Plain syscalls on a static program; safe to call between fork and exec once [`probe`]
/// succeeded (it builds the program, so nothing is allocated here; `Capabilities::seccomp`
/// is true only then).
pub(super) unsafe fn install() -> io::Result<()> {
    let filter = program();
    let prog = Program {
        len: filter.len() as libc::c_ushort,
        filter: filter.as_ptr(),
    };
    if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
        return Err(io::Error::last_os_error());
    }
    if libc::prctl(
        libc::PR_SET_SECCOMP,
        libc::SECCOMP_MODE_FILTER as libc::c_ulong,
        &prog as *const Program as libc::c_ulong,
        0,
        0,
    ) != 0
    {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether the kernel takes the filter and it refuses what it should; tried in a child.
pub(super) fn probe() -> bool {
    program();
    // SAFETY: the child only issues syscalls and ends with _exit.
    unsafe {
        let pid = libc::fork();
        if pid < 0 {
            return false;
        }
        if pid == 0 {
            let ok = install().is_ok()
                && libc::syscall(libc::SYS_unshare, libc::CLONE_NEWUTS) == -1
                && *libc::__errno_location() == libc::EPERM
                && libc::syscall(libc::SYS_clone3, 0, 0) == -1
                && *libc::__errno_location() == libc::ENOSYS
                && libc::getpid() > 0;
            libc::_exit(if ok { 0 } else { 1 });
        }
        let mut status = 0;
        while libc::waitpid(pid, &mut status, 0) < 0 {
            if *libc::__errno_location() != libc::EINTR {
                return false;
            }
        }
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the program on one system call as the kernel would (only the opcodes used here).
    fn verdict(arch: u32, nr: u32, arg0: u32) -> u32 {
        let p = program();
        let mut acc = 0u32;
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            pc += 1;
            match i.code {
                LD_W_ABS => {
                    acc = match i.k {
                        NR => nr,
                        ARCH => arch,
                        ARG0_LOW => arg0,
                        other => panic!("load of offset {other}"),
                    }
                }
                RET_K => return i.k,
                JEQ_K | JGE_K | JSET_K => {
                    let taken = match i.code {
                        JEQ_K => acc == i.k,
                        JGE_K => acc >= i.k,
                        _ => acc & i.k != 0,
                    };
                    pc += usize::from(if taken { i.jt } else { i.jf });
                }
                other => panic!("opcode {other:#x}"),
            }
        }
    }

    #[test]
    fn filter_denies_exactly_its_list() {
        let eperm = RET_ERRNO | libc::EPERM as u32;
        for &nr in DENIED {
            assert_eq!(verdict(AUDIT_ARCH, nr as u32, 0), eperm, "{nr}");
        }
        let clone3 = libc::SYS_clone3 as u32;
        assert_eq!(
            verdict(AUDIT_ARCH, clone3, 0),
            RET_ERRNO | libc::ENOSYS as u32
        );
        let clone = libc::SYS_clone as u32;
        assert_eq!(verdict(AUDIT_ARCH, clone, libc::SIGCHLD as u32), RET_ALLOW);
        let new_user = (libc::CLONE_NEWUSER | libc::SIGCHLD) as u32;
        assert_eq!(verdict(AUDIT_ARCH, clone, new_user), eperm);
        assert_eq!(verdict(AUDIT_ARCH ^ 1, 0, 0), RET_KILL_PROCESS);
        // Everything else is allowed.
        let denied: Vec<u32> = DENIED.iter().map(|&nr| nr as u32).collect();
        for nr in 0..500u32 {
            if !denied.contains(&nr) && nr != clone3 && nr != clone {
                assert_eq!(verdict(AUDIT_ARCH, nr, 0), RET_ALLOW, "{nr}");
            }
        }
    }

    #[test]
    fn filter_is_well_formed_and_taken_by_the_kernel() {
        let p = program();
        // Every denied call, clone and clone3, the x32 check, the arch prologue, the returns.
        assert!(p.len() >= DENIED.len() + 10 && p.len() < 256, "{}", p.len());
        assert_eq!(p.last().map(|i| i.code), Some(RET_K));
        assert!(
            probe(),
            "the kernel refused the filter or it let a denied call through"
        );
    }
}
