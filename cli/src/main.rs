fn main() {
    println!("kv: not built yet");
}
