// Frequency bars from a Web Audio analyser, drawn while the station plays.

export function visualize(canvas, player) {
  const context = canvas.getContext("2d");
  const calm = window.matchMedia("(prefers-reduced-motion: reduce)");
  let bins = new Uint8Array(0);

  function draw() {
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth * ratio;
    const height = canvas.clientHeight * ratio;
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    context.clearRect(0, 0, width, height);
    const analyser = player.playing ? player.analyser : null;
    const count = 32;
    if (analyser) {
      if (bins.length !== analyser.frequencyBinCount) bins = new Uint8Array(analyser.frequencyBinCount);
      analyser.getByteFrequencyData(bins);
    }
    const gap = 2 * ratio;
    const bar = (width - gap * (count - 1)) / count;
    const style = getComputedStyle(canvas);
    context.fillStyle = style.getPropertyValue("--bar") || "#ff7a45";
    for (let i = 0; i < count; i += 1) {
      // Skip the top bins: MP3 at 128 kbps carries little above 16 kHz.
      const level = analyser ? bins[Math.floor((i * bins.length * 0.75) / count)] / 255 : 0;
      const h = Math.max(2 * ratio, level * height);
      context.fillRect(i * (bar + gap), height - h, bar, h);
    }
    if (calm.matches) setTimeout(() => requestAnimationFrame(draw), 250);
    else requestAnimationFrame(draw);
  }
  requestAnimationFrame(draw);
}
