//! Replays an `edit_ops` input and, for one that fails the clean-base
//! oracle, shrinks it: drops operations one at a time and halves data
//! lengths while it still fails, then prints the concrete calls (inode
//! numbers, names, sizes) of what is left, ready to be written as a
//! regression test. `--before FILE` writes the base image the calls start
//! from, `--after FILE` the image they leave.
//!
//!   cargo run --release --example edit_ops_replay IN [--before F] [--after F]
use arbitrary::{Arbitrary, Unstructured};
use ufskit_fuzz::ops::{self, Input, Op};

fn fails(input: &Input) -> bool {
    ops::run(input).is_some_and(|r| r.clean && ops::oracle(&r).is_err())
}

fn data_len(op: &mut Op) -> Option<&mut u16> {
    match op {
        Op::Create { data, .. } | Op::Write { data, .. } | Op::Append { data, .. } => Some(&mut data.len),
        Op::Symlink { target: data, .. } | Op::SetXattr { value: data, .. } => Some(&mut data.len),
        _ => None,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let data = std::fs::read(&args[1]).expect("read input");
    let opt = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1));
    let mut input = Input::arbitrary_take_rest(Unstructured::new(&data)).expect("decode");
    let r = ops::run(&input).expect("the base opens");
    println!("base {}, edits {:?}, {} operations", r.base, input.edits, input.ops.len());
    match ops::oracle(&r) {
        Ok(()) => {
            println!("passes:\n{}", r.log.join("\n"));
            return;
        }
        Err(e) if !r.clean => println!("(edited base, oracle not applied) {e}"),
        Err(e) => println!("fails: {e}"),
    }
    if fails(&input) {
        let mut changed = true;
        while changed {
            changed = false;
            let mut i = input.ops.len();
            while i > 0 {
                i -= 1;
                let op = input.ops.remove(i);
                if fails(&input) {
                    changed = true;
                } else {
                    input.ops.insert(i, op);
                }
            }
            for i in 0..input.ops.len() {
                while let Some(len) = data_len(&mut input.ops[i]).map(|l| *l) {
                    if len == 0 {
                        break;
                    }
                    *data_len(&mut input.ops[i]).expect("has data") = len / 2;
                    if fails(&input) {
                        changed = true;
                    } else {
                        *data_len(&mut input.ops[i]).expect("has data") = len;
                        break;
                    }
                }
            }
        }
        let r = ops::run(&input).expect("runs");
        println!(
            "\nshrunk to {} operations:\n{}\n\n{}",
            input.ops.len(),
            r.log.join("\n"),
            ops::oracle(&r).unwrap_err()
        );
        println!("\n{:#?}", input.ops);
    }
    if let Some(p) = opt("--before") {
        std::fs::write(p, &ufskit_fuzz::bases()[usize::from(input.base) % 3].image).expect("write");
    }
    if let Some(p) = opt("--after") {
        std::fs::write(p, ops::run(&input).expect("runs").image).expect("write");
    }
}
