fn main() {
    println!("phonehome: under construction");
}
