import { describe, expect, it } from 'vitest';
import { type ResultsPdfInput, renderResultsPdf } from '../../lambdas/cda/pdf.js';

const INPUT: ResultsPdfInput = {
  title: "Compte rendu d'examens biologiques",
  laboratory: { name: 'Laboratoire (exemple)', lines: ['1 rue de l’Exemple', '75000 PARIS'] },
  patient: { name: 'MARTIN Hélène', birthDate: '05/03/1979', ipp: 'IPP0001' },
  reportDate: new Date('2026-12-02T09:15:00Z'),
  sections: [
    {
      title: 'Biochimie - Bilan lipidique',
      rows: [
        { name: 'Bilan', value: '', unit: '', range: '', flag: '', kind: 'heading' },
        {
          name: 'Cholestérol total',
          value: '6.2',
          unit: 'mmol/L',
          range: '3.5 - 5.2',
          flag: 'Anormalement haut',
          abnormal: true,
          kind: 'member',
        },
        { name: 'Glucose ≥ seuil 😀', value: '< 0.5', unit: 'µmol/L', range: '', flag: '' },
      ],
    },
  ],
  validatedBy: 'Exemple BIOLOGISTE',
};

const pages = (pdf: Buffer) => pdf.toString('latin1').match(/\/Type \/Page\b/g)?.length ?? 0;

describe('renderResultsPdf', () => {
  it('renders an A4 PDF, characters outside the standard fonts replaced', async () => {
    const pdf = await renderResultsPdf(INPUT);
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(pdf.toString('latin1').trimEnd().endsWith('%%EOF')).toBe(true);
    expect(pdf.toString('latin1')).toContain('/MediaBox [0 0 595.28 841.89]');
    expect(pages(pdf)).toBe(1);
  });

  it('breaks long tables over pages', async () => {
    const rows = Array.from({ length: 120 }, (_, i) => ({
      name: `Examen ${i}`,
      value: String(i),
      unit: 'g/L',
      range: '1 - 2',
      flag: '',
    }));
    const pdf = await renderResultsPdf({ ...INPUT, sections: [{ title: 'Hématologie', rows }] });
    expect(pages(pdf)).toBeGreaterThan(2);
  });
});
