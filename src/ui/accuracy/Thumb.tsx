/** A CIFAR image (3072 bytes, CHW planes) drawn on a canvas, scaled up without smoothing. */
import { memo, useEffect, useRef } from 'react';

// memo: a list of 48 thumbnails must not re-render on every progress tick of a score
export const Thumb = memo(function Thumb({ pixels, size = 64, label }: { pixels: Uint8Array | undefined; size?: number; label: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const c = ref.current;
    if (!c || !pixels || pixels.length < 3072) return;
    const ctx = c.getContext('2d');
    if (!ctx) return;
    const img = ctx.createImageData(32, 32);
    for (let i = 0; i < 1024; i++) {
      img.data[4 * i] = pixels[i];
      img.data[4 * i + 1] = pixels[1024 + i];
      img.data[4 * i + 2] = pixels[2048 + i];
      img.data[4 * i + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
  }, [pixels]);
  return <canvas ref={ref} width={32} height={32} className="thumb" style={{ width: size, height: size }} role="img" aria-label={label} />;
});
