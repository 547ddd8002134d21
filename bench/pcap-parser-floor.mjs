// pcap-parser (the design card's reader) framing the same file. Prints "<packets> <seconds>".
import pcapParser from "pcap-parser";

const t0 = process.hrtime.bigint();
let packets = 0;
const parser = pcapParser.parse(process.argv[2]);
parser.on("packet", () => {
  packets++;
});
parser.on("end", () => console.log(packets, Number(process.hrtime.bigint() - t0) / 1e9));
