// emovox PCM sender: gathers the microphone's samples into ~100 ms blocks of
// 16-bit little-endian PCM and posts them (with the block's RMS level) to the page.
class PcmSender extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const seconds = (options.processorOptions && options.processorOptions.blockSeconds) || 0.1;
    this.size = Math.max(128, Math.round(sampleRate * seconds));
    this.buffer = new Float32Array(this.size);
    this.filled = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    let offset = 0;
    while (offset < channel.length) {
      const n = Math.min(channel.length - offset, this.size - this.filled);
      this.buffer.set(channel.subarray(offset, offset + n), this.filled);
      this.filled += n;
      offset += n;
      if (this.filled === this.size) this.flush();
    }
    return true;
  }

  flush() {
    const pcm = new Int16Array(this.size);
    let energy = 0;
    for (let i = 0; i < this.size; i++) {
      const s = Math.max(-1, Math.min(1, this.buffer[i]));
      energy += s * s;
      pcm[i] = s < 0 ? s * 32768 : s * 32767;
    }
    this.port.postMessage({ pcm: pcm.buffer, rms: Math.sqrt(energy / this.size) }, [pcm.buffer]);
    this.filled = 0;
  }
}

registerProcessor("pcm-sender", PcmSender);
